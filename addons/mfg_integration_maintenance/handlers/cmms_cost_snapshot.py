from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("cmms.cost.snapshot", major=1)
def handle_cost_snapshot(env, event):
    """Keep the snapshot: the 'cmms_cost' reconciliation reads the latest one (see
    reconciliations/cmms_cost.py)."""
    return None
