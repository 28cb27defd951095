"""CMMS values in Odoo's terms and back: priorities, request references, labour cost."""

# The CMMS's priority words and Odoo's maintenance priorities ('0' very low .. '3' high).
PRIORITY_TO_ODOO = {"low": "1", "normal": "2", "high": "3", "urgent": "3"}
PRIORITY_FROM_ODOO = {"0": "low", "1": "low", "2": "normal", "3": "urgent"}
# Prefix of the reference Odoo gives its own requests in outbound messages.
REQUEST_REF_PREFIX = "maintenance.request/"
EQUIPMENT_REF_PREFIX = "equipment/"
PART_SUBJECT_PREFIX = "part/"


def odoo_priority(word):
    """Odoo's priority for the CMMS's ``word`` (None stays None: not sent, not changed)."""
    return PRIORITY_TO_ODOO.get(word) if word else None


def cmms_priority(odoo_value):
    """The CMMS's word for Odoo's priority; no priority set is 'normal'."""
    return PRIORITY_FROM_ODOO.get(odoo_value or "", "normal")


def labour_cost(hours, rate):
    """Hours at a rate, to the cent (what the CMMS's own cost reports show)."""
    return round((hours or 0.0) * (rate or 0.0), 2)
