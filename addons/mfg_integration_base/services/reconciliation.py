"""Registry of reconciliation rule kinds, and the arithmetic every kind shares.

Each addon registers the comparisons it knows::

    from odoo.addons.mfg_integration_base.services.reconciliation import Row, registry

    @registry.kind("sap_stock", "SAP stock per material and plant")
    def compare_sap_stock(rule, start, end):
        ...
        yield Row(key="MAT-1/1000", odoo_value=12.0, external_value=12.5, label="MAT-1 in 1000")

A compare function receives the ``mfg.integration.reconciliation.rule`` record and the
window it covers (naive UTC datetimes, ``start`` included, ``end`` excluded), and returns
rows of (key, Odoo value, external value): ``None`` on one side means the key is missing
there. The framework computes differences, applies the rule's tolerances (not to a row
marked ``exact``: its values are codes, e.g. a state), writes lines, and opens and heals
exceptions.

Lookups see only kinds of installed modules (see :mod:`.registry`).
"""

import logging
from dataclasses import dataclass
from typing import NamedTuple

from .registry import PluginRegistry, module_of

_logger = logging.getLogger(__name__)

MATCHED = "matched"
MISMATCH = "mismatch"
MISSING_IN_ODOO = "missing_in_odoo"
MISSING_EXTERNAL = "missing_external"


class Row(NamedTuple):
    """One compared key: ``None`` on a side means the key is missing on that side."""

    key: str
    odoo_value: float | None
    external_value: float | None
    label: str | None = None
    # compared without the rule's tolerances: values that are codes, not amounts (a state)
    exact: bool = False


@dataclass(frozen=True)
class RuleKind:
    code: str
    label: str
    compare: object
    module: str


class ReconciliationRegistry(PluginRegistry):
    def kind(self, code, label):
        """Decorator registering ``function`` as the compare function of kind ``code``."""

        def decorate(function):
            self.register(code, label, function)
            return function

        return decorate

    def register(self, code, label, function, module=None):
        module = module or module_of(function)
        others = set(self._registered(code)) - {module}
        if others:
            raise ValueError(
                f"Reconciliation kind '{code}' is already registered by {', '.join(sorted(others))}"
            )
        return self._put(code, module, RuleKind(code, label, function, module))

    def get(self, code, installed_modules=None):
        found = self._find(code, installed_modules)
        return found[0] if found else None

    def selection(self, installed_modules=None):
        """(code, label) of the usable kinds, for a selection field."""
        return sorted(
            (
                (entry.code, entry.label)
                for _code, _module, entry in self._usable(installed_modules)
            ),
            key=lambda item: item[1],
        )


registry = ReconciliationRegistry()


def classify(odoo_value, external_value, tolerance_absolute=0.0, tolerance_percent=0.0):
    """(status, difference) of one row; difference is Odoo minus external, a missing side as 0.

    A difference is within tolerance when it is at most the absolute tolerance, or at most
    the percentage of the external value (the reference the other system reports). A key
    missing on one side whose other value is within tolerance of zero is a match: nothing
    material is missing (a day reported with 0 events and none received).
    """
    if odoo_value is None and external_value is None:
        raise ValueError("a row needs a value on at least one side")
    difference = (odoo_value or 0.0) - (external_value or 0.0)
    allowed = max(
        tolerance_absolute or 0.0, abs(external_value or 0.0) * (tolerance_percent or 0.0) / 100.0
    )
    # a hair of slack, so 0.1 + 0.2 against 0.3 is a match
    if abs(difference) <= allowed + 1e-9:
        return MATCHED, difference
    if odoo_value is None:
        return MISSING_IN_ODOO, difference
    if external_value is None:
        return MISSING_EXTERNAL, difference
    return MISMATCH, difference
