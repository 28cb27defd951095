"""Odoo records as SAP codes: the reverse of the system's value mappings, with fallbacks."""

from decimal import Decimal

# Odoo's standard units and SAP's ISO-like unit codes, when no unit mapping says otherwise
DEFAULT_UNIT_CODES = {"Units": "PC", "Dozens": "DZN", "kg": "KG", "g": "G", "L": "L", "m": "M"}
# SAP's batch numbers have 10 characters
BATCH_LENGTH = 10


def quantity(value, digits=3):
    """SAP's decimal string of a quantity (no exponent, no float noise, no trailing zeros)."""
    text = format(Decimal(repr(round(float(value), digits))).normalize(), "f")
    return "0" if text in ("-0", "") else text


def external_code(mapping_model, system, kind, record):
    """The external code the system's ``kind`` mapping gives ``record``, or None."""
    line = (
        mapping_model.env["mfg.integration.mapping.line"]
        .sudo()
        .search(
            [
                ("mapping_id.system_id", "=", system.id),
                ("mapping_id.kind", "=", kind),
                ("mapping_id.active", "=", True),
                ("target_ref", "=", f"{record._name},{record.id}"),
            ],
            limit=1,
        )
    )
    return line.external_code if line else None


def material_code(mapping_model, system, product):
    return (
        external_code(mapping_model, system, "product", product)
        or product.default_code
        or f"ODOO-{product.id}"
    )


def unit_code(mapping_model, system, uom):
    return (
        external_code(mapping_model, system, "uom", uom)
        or DEFAULT_UNIT_CODES.get(uom.name)
        or uom.name[:3].upper()
    )


def storage_location(mapping_model, system, location, issue=False):
    """The SAP storage location of an Odoo location: its location mapping, else the
    system's default for issues or receipts."""
    default = system.sap_storage_location or ""
    if issue:
        default = system.sap_issue_storage_location or default
    return external_code(mapping_model, system, "location", location) or default


def batch_code(mapping_model, system, lot):
    return external_code(mapping_model, system, "lot", lot) or lot.name[:BATCH_LENGTH]
