"""Shop-floor rules for MES production events: quantities, tolerances, lots (no ORM here)."""

from dataclasses import dataclass

# System parameter an admin edits: how far (percent of the planned quantity) an order may be
# over-produced before a completion becomes a planner's exception.
OVERPRODUCTION_TOLERANCE_PARAM = "mfg_integration_mes.overproduction_tolerance_percent"
DEFAULT_OVERPRODUCTION_TOLERANCE = 0.0


@dataclass(frozen=True)
class Unit:
    """What a conversion needs of a unit of measure: its name, category and ratio."""

    name: str
    category: str
    factor: float  # units per reference unit of its category, as Odoo's uom.factor


def convert(quantity, from_unit, to_unit):
    """``quantity`` in ``from_unit`` expressed in ``to_unit``; None across categories."""
    if from_unit.category != to_unit.category:
        return None
    return quantity * to_unit.factor / from_unit.factor


def tolerance_percent(raw):
    """The tolerance from a system parameter's text; a missing or broken value is the default."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return DEFAULT_OVERPRODUCTION_TOLERANCE
    return max(value, 0.0)


def overproduction(planned, produced, reported, tolerance, rounding=0.0):
    """Quantity beyond ``planned`` plus ``tolerance`` percent, once ``reported`` is added to
    ``produced`` (0.0 when within the tolerance)."""
    excess = produced + reported - planned * (1 + tolerance / 100.0)
    return excess if excess > max(rounding, 1e-9) / 2 else 0.0


def lot_shortfall(on_hand, already_consumed, requested, rounding=0.0):
    """How much of ``requested`` the lot cannot give at the source location, counting what
    this order already consumed from it (0.0 when it can)."""
    missing = already_consumed + requested - on_hand
    return missing if missing > max(rounding, 1e-9) / 2 else 0.0


def completion_steps(entries, quantity, remaining, final):
    """Split a completion into mark-done steps, one per lot (or serial).

    ``entries`` are (lot name or None, quantity); without entries the whole ``quantity``
    is one step. Returns (lot, quantity, close) tuples: ``close`` means mark the order done
    without a backorder (the last step of a final report, or of one that reaches the planned
    quantity); every other step leaves a backorder for what remains, for the next lot.
    """
    steps = list(entries) or [(None, quantity)]
    result = []
    left = remaining
    for index, (lot, step_quantity) in enumerate(steps):
        left -= step_quantity
        last = index == len(steps) - 1
        result.append((lot, step_quantity, last and (final or left <= 1e-9)))
    return result
