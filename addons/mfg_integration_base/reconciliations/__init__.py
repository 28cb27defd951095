"""Reconciliation rule kinds shipped with the base addon (other addons ship their own)."""

from . import event_completeness
from . import shadow_vs_legacy
