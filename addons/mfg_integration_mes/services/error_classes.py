"""The error class of every reason code the MES flows raise, registered with the framework."""

from odoo.addons.mfg_integration_base.services.error_classes import register_reason_classes

REASON_CLASSES = {
    # what the MES reported refers to something Odoo does not have
    "order_unknown": "missing_reference",
    "operation_unknown": "missing_reference",
    # the MES sent a value Odoo cannot take as it is
    "invalid_time": "value",
    "downtime_ends_before_start": "value",
    "uom_category": "value",
    "over_production": "value",
    "lot_required": "value",
    "snapshot_duplicate_order": "value",
    # well formed and known, but the order's or the stock's state refuses it
    "order_closed": "business_rule",
    "component_not_in_order": "business_rule",
    "lot_not_available": "business_rule",
    "completion_refused": "business_rule",
    "workcenter_blocked": "business_rule",
}

register_reason_classes(REASON_CLASSES)
