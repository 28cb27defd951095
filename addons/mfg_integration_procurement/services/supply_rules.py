"""Supply rules: deviations of a supplier's confirmation, shortage gaps, receipt tolerance.

Plain Python on plain values (no ORM), so the rules a buyer and a planner rely on are
tested without a database.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

# System parameters an admin sets (percent); absent or invalid: the default.
RECEIPT_TOLERANCE_PARAM = "mfg_integration_procurement.receipt_tolerance_percent"
MATCH_QTY_TOLERANCE_PARAM = "mfg_integration_procurement.match_qty_tolerance_percent"
MATCH_PRICE_TOLERANCE_PARAM = "mfg_integration_procurement.match_price_tolerance_percent"
DEFAULT_TOLERANCE_PERCENT = 2.0


def tolerance_percent(value, default=DEFAULT_TOLERANCE_PERCENT):
    """A tolerance parameter as a non-negative percentage (bad text: the default)."""
    try:
        percent = float(value)
    except (TypeError, ValueError):
        return default
    return percent if percent >= 0 else default


def beyond_tolerance(expected, actual, percent, rounding=0.0):
    """True when ``actual`` differs from ``expected`` by more than ``percent`` of it."""
    allowed = abs(expected) * percent / 100.0
    return abs(actual - expected) > allowed + rounding / 2.0


def deviations(ordered_qty, confirmed_qty, requested_date, confirmed_date, price, confirmed_price):
    """The supplier's deviations from the order line, as (kind, ordered, confirmed) tuples.

    Kinds: ``qty`` (less or more than ordered), ``date`` (later than requested; earlier
    is no problem for production), ``price`` (a different unit price).
    """
    found = []
    if confirmed_qty is not None and abs(confirmed_qty - ordered_qty) > 1e-9:
        found.append(("qty", ordered_qty, confirmed_qty))
    if confirmed_date and requested_date and confirmed_date > requested_date:
        found.append(("date", requested_date, confirmed_date))
    if confirmed_price is not None and abs(confirmed_price - price) > 1e-9:
        found.append(("price", price, confirmed_price))
    return found


@dataclass
class LineSupply:
    """What a purchase line still brings, in the product's unit."""

    ordered: float
    received: float
    incoming: float  # on receipts not yet validated
    promised: float | None  # what the supplier confirmed (None: not confirmed yet)
    rejected: bool
    arrival: datetime | None


@dataclass
class Need:
    """A manufacturing order's open need of the line's component."""

    production_id: int
    start: datetime | None
    qty: float


@dataclass
class Gap:
    reason: str  # late, short or rejected
    qty: float
    expected_date: datetime | None
    needed_date: datetime | None
    production_ids: list = field(default_factory=list)

    @property
    def days(self):
        if not self.expected_date or not self.needed_date:
            return 0.0
        return round(max((self.expected_date - self.needed_date).total_seconds(), 0) / 86400, 2)


def still_to_come(supply):
    """Quantity the line will still deliver: on open receipts, capped by the promise."""
    if supply.rejected:
        return 0.0
    if supply.promised is None:
        return max(supply.incoming, 0.0)
    return max(min(supply.incoming, supply.promised - supply.received), 0.0)


def shortage_gap(supply, needs, rounding=0.0):
    """The gap between what the line brings and the orders that wait for it, or None.

    Late: goods still to come arrive after an order's start. Short: the line will bring
    less than ordered (a partial confirmation, a rejection, a short receipt without
    backorder), and orders wait for the component. The gap is bounded by their need.
    """
    to_come = still_to_come(supply)
    missing = supply.ordered - supply.received - to_come
    short = missing > rounding / 2.0
    late_needs = [
        need
        for need in needs
        if to_come > 0 and supply.arrival and need.start and need.start < supply.arrival
    ]
    affected = needs if short else late_needs
    if not affected:
        return None
    demand = sum(need.qty for need in affected)
    quantity = min(demand, (missing if short else 0.0) + (to_come if late_needs else 0.0))
    if quantity <= rounding / 2.0:
        return None
    if supply.rejected:
        reason = "rejected"
    elif short:
        reason = "short"
    else:
        reason = "late"
    starts = [need.start for need in affected if need.start]
    return Gap(
        reason=reason,
        qty=quantity,
        expected_date=supply.arrival if to_come > 0 else None,
        needed_date=min(starts) if starts else None,
        production_ids=sorted({need.production_id for need in affected}),
    )


def utc_naive(stamp):
    """An RFC 3339 date-time as the naive UTC datetime Odoo stores (None for none)."""
    if not stamp:
        return None
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)
