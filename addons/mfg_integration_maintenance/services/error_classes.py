"""The error class of every reason code the maintenance flows raise, registered with the
framework."""

from odoo.addons.mfg_integration_base.services.error_classes import register_reason_classes

REASON_CLASSES = {
    # a record or a setting the CMMS's event needs is not in Odoo (a vendor, a Buy route)
    "technician_unknown": "missing_reference",
    "equipment_without_workcenter": "missing_reference",
    "maintenance_locations_missing": "missing_reference",
    "part_no_vendor": "missing_reference",
    "part_not_reordered": "missing_reference",
    # the CMMS sent a value Odoo cannot take as it is
    "invalid_time": "value",
    # known and well formed, but the part's tracking or stock refuses it
    "part_tracked": "business_rule",
    "part_not_available": "business_rule",
}

register_reason_classes(REASON_CLASSES)
