"""The error class of every reason code the quality flows raise, registered with the
framework (``lot_on_hold`` also when a held lot stops an MES or WMS event)."""

from odoo.addons.mfg_integration_base.services.error_classes import register_reason_classes

REASON_CLASSES = {
    "lot_unknown": "missing_reference",
    "snapshot_duplicate_lot": "value",
    "lot_on_hold": "business_rule",
}

register_reason_classes(REASON_CLASSES)
