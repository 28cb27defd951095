"""The error class of every reason code the procurement flows raise, registered with the
framework."""

from odoo.addons.mfg_integration_base.services.error_classes import register_reason_classes

REASON_CLASSES = {
    "order_unknown": "missing_reference",
    # the supplier's message does not fit the purchase order line it names, or names none
    "line_mismatch": "value",
    "line_ambiguous": "value",
    # goods counted at the receipt differ from the supplier's shipping notice
    "receipt_differs_from_notice": "value",
    # known and well formed, but the purchase order's state or lines refuse it
    "order_not_open": "business_rule",
    "product_not_ordered": "business_rule",
    "nothing_to_receive": "business_rule",
}

register_reason_classes(REASON_CLASSES)
