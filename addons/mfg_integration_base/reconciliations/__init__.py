"""Reconciliation rule kinds shipped with the base addon (other addons ship their own), and
the helpers kinds share."""

from . import event_completeness
from . import shadow_vs_legacy
from . import snapshots
