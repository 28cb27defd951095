"""What the SAP handlers share: units and materials resolved through the system's mappings."""

from decimal import Decimal

from odoo.addons.mfg_integration_base.services.errors import (
    BusinessError,
    MappingMissing,
    PrerequisiteMissing,
)

from ..services.sap_values import DEFAULT_UNIT_CODES


def resolve_product(env, system, material):
    """The product of SAP's ``material``. While SAP is the system of record for products, a
    material not mapped yet is one whose own pull has not been applied yet (a pull brings
    materials, BoMs and orders together, and they are applied in subject order): the event
    waits for it (bounded) instead of opening a missing-mapping exception at once."""
    try:
        return env["mfg.integration.mapping"]._resolve(system, "product", material)
    except MappingMissing as missing:
        if env["mfg.integration.record.kind"]._owner("product") != system:
            raise
        raise PrerequisiteMissing(
            env._(
                "Material %(code)s has not come from %(system)s yet: waiting for its pull",
                code=material,
                system=system.name,
            ),
            key_fields=missing.key_fields,
            reason_code="mapping_missing",
            suggested_action=missing.suggested_action,
        ) from missing


def resolve_unit(env, system, code, fallback=None):
    """The Odoo unit of SAP's unit ``code``: the system's unit mapping, else Odoo's standard
    unit SAP's code stands for, else ``fallback`` (the product's unit) when it is SAP's code."""
    Mapping = env["mfg.integration.mapping"]
    try:
        return Mapping._resolve(system, "uom", code)
    except MappingMissing:
        names = [name for name, sap in DEFAULT_UNIT_CODES.items() if sap == code]
        unit = env["uom.uom"].search([("name", "in", names)], limit=1) if names else None
        if unit:
            return unit
        if fallback is not None and fallback.name.upper()[:3] == code:
            return fallback
        raise


def decimal_quantity(value, what, key_fields):
    quantity = Decimal(value)
    if quantity <= 0:
        raise BusinessError(
            "quantity_invalid",
            f"SAP sent {what} of {value}: a quantity must be more than zero",
            suggested_action="Correct the quantity in SAP; the next pull brings it again.",
            key_fields=key_fields,
        )
    return float(quantity)
