from odoo import _, models
from odoo.tools import float_round

from odoo.addons.mfg_integration_base.services.errors import BusinessError, MappingMissing

from ..services.production_rules import Unit, convert


class MfgIntegrationEvent(models.Model):
    _inherit = "mfg.integration.event"

    def _mes_lookup(self, kind, code, model, fields_to_match):
        """The record the system's mapping gives ``code``, else the one whose own code is
        ``code`` (what Odoo released to the MES); neither: the missing-mapping exception."""
        try:
            return self._map(kind, code)
        except MappingMissing as missing:
            for field in fields_to_match:
                found = self.env[model].search([(field, "=", code)], limit=2)
                if len(found) == 1:
                    return found
            raise missing from None

    def _mes_product(self, code):
        return self._mes_lookup("product", code, "product.product", ["default_code"])

    def _mes_workcenter(self, code):
        return self._mes_lookup("workcenter", code, "mrp.workcenter", ["code", "name"])

    def _mes_location(self, code):
        return self._mes_lookup("location", code, "stock.location", ["barcode", "complete_name"])

    def _mes_quantity(self, quantity, uom_code, target_uom, what):
        """``quantity`` in the MES unit ``uom_code`` expressed in ``target_uom``."""
        if not uom_code:
            return quantity
        uom = self._mes_lookup("uom", uom_code, "uom.uom", ["name"])
        converted = convert(
            quantity,
            Unit(uom.name, str(uom.category_id.id), uom.factor),
            Unit(target_uom.name, str(target_uom.category_id.id), target_uom.factor),
        )
        if converted is None:
            raise BusinessError(
                "uom_category",
                _(
                    "%(what)s is reported in %(uom)s (%(category)s), which cannot be converted "
                    "to %(target)s (%(target_category)s)",
                    what=what,
                    uom=uom.name,
                    category=uom.category_id.name,
                    target=target_uom.name,
                    target_category=target_uom.category_id.name,
                ),
                suggested_action=_(
                    "Correct the unit mapping of '%(code)s' (or the MES's unit), then retry.",
                    code=uom_code,
                ),
                key_fields={"uom": uom_code, "target": target_uom.name},
            )
        return float_round(converted, precision_rounding=target_uom.rounding)

    def _mes_lot(self, product, name, company, create=False):
        """The lot or serial ``name`` of ``product``; created for produced goods."""
        try:
            lot = self._map("lot", name)
            if lot.product_id == product:
                return lot
        except MappingMissing:
            pass
        Lot = self.env["stock.lot"]
        lot = Lot.search(
            [
                ("product_id", "=", product.id),
                ("name", "=", name),
                ("company_id", "in", (company.id, False)),
            ],
            limit=1,
        )
        if lot or not create:
            return lot
        return Lot.create({"product_id": product.id, "name": name, "company_id": company.id})

    def _mes_workorder(self, production, machine=None, operation=None):
        """The open work order of ``production`` for the MES's machine and operation (either
        may be absent); none: the order has no such operation, a planner's exception."""
        workorders = production.workorder_ids.filtered(lambda w: w.state not in ("done", "cancel"))
        if machine:
            workcenter = self._mes_workcenter(machine)
            workorders = workorders.filtered(lambda w: w.workcenter_id == workcenter)
        if operation:
            workorders = workorders.filtered(lambda w: w.name == operation)
        if workorders:
            return workorders[0]
        where = " ".join(
            filter(
                None,
                [
                    operation and _("operation '%s'", operation),
                    machine and _("on machine %s", machine),
                ],
            )
        )
        raise BusinessError(
            "operation_unknown",
            _(
                "Order %(ref)s has no open %(where)s",
                ref=production.mes_order_ref,
                where=where or _("operation"),
            ),
            suggested_action=_(
                "Check the order's routing in Odoo (operations and work centers) against the "
                "MES; fix the routing or the event's data, then retry."
            ),
            key_fields={"order": production.mes_order_ref, "operation": where},
        )
