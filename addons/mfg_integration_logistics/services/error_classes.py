"""The error class of every reason code the logistics flows (WMS, CRM) raise, registered with
the framework."""

from odoo.addons.mfg_integration_base.services.error_classes import register_reason_classes

REASON_CLASSES = {
    # the message names a delivery or a lot Odoo does not know
    "delivery_unknown": "missing_reference",
    "lot_unknown": "missing_reference",
    # the message lacks a value or carries one that does not add up
    "lot_missing": "value",
    "serial_quantity": "value",
    "lot_quantity_mismatch": "value",
    "uom_category": "value",
    "nothing_shipped": "value",
    "order_duplicate_line": "value",
    "count_duplicate_line": "value",
    "snapshot_duplicate_line": "value",
    # known and well formed, but the delivery's, the order's or the lot's state refuses it
    "delivery_cancelled": "business_rule",
    "delivery_not_validated": "business_rule",
    "product_not_in_delivery": "business_rule",
    "order_confirmed": "business_rule",
    "lot_on_hold": "business_rule",
}

register_reason_classes(REASON_CLASSES)
