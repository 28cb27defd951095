from odoo import _, api, models
from odoo.tools import float_round

from odoo.addons.mfg_integration_base.outbox.emit import outbound_destinations
from odoo.addons.mfg_integration_base.services.errors import BusinessError


class MfgIntegrationEvent(models.Model):
    _inherit = "mfg.integration.event"

    def _logistics_product(self, code):
        """The product mapped to ``code`` for this event's system (unknown: Create Mapping)."""
        return self._map("product", code)

    def _logistics_location(self, code):
        return self._map("location", code)

    def _logistics_quantity(self, quantity, uom_code, product, what):
        """``quantity`` in the system's unit ``uom_code`` expressed in the product's unit."""
        target = product.uom_id
        if not uom_code:
            return quantity
        uom = self._map("uom", uom_code)
        if uom.category_id != target.category_id:
            raise BusinessError(
                "uom_category",
                _(
                    "%(what)s of %(product)s is given in %(uom)s (%(category)s), which cannot "
                    "be converted to %(target)s (%(target_category)s)",
                    what=what,
                    product=product.display_name,
                    uom=uom.name,
                    category=uom.category_id.name,
                    target=target.name,
                    target_category=target.category_id.name,
                ),
                suggested_action=_(
                    "Correct the unit mapping of '%(code)s' for %(system)s, then retry.",
                    code=uom_code,
                    system=self.system_id.name,
                ),
                key_fields={"uom": uom_code, "product": product.display_name},
            )
        return float_round(
            uom._compute_quantity(quantity, target, round=False),
            precision_rounding=target.rounding,
        )

    def _logistics_lot(self, product, name, create=False):
        """The lot or serial number ``name`` of ``product`` (created when asked)."""
        Lot = self.env["stock.lot"]
        lot = Lot.search(
            [
                ("product_id", "=", product.id),
                ("name", "=", name),
                ("company_id", "in", (self.env.company.id, False)),
            ],
            limit=1,
        )
        if lot or not create:
            return lot
        return Lot.create(
            {"product_id": product.id, "name": name, "company_id": self.env.company.id}
        )

    def _logistics_check_lots_released(self, lots, what):
        """Refuse to move lots on quality hold (the quality addon's flag, where installed)."""
        held = lots.filtered(lambda lot: "mfg_on_hold" in lot._fields and lot.mfg_on_hold)
        if held:
            names = ", ".join(sorted(held.mapped("name")))
            raise BusinessError(
                "lot_on_hold",
                _(
                    "%(what)s names lot %(lots)s, which is on quality hold: nothing was moved",
                    what=what,
                    lots=names,
                ),
                suggested_action=_(
                    "Have quality release the lot (or the WMS pick another one); then retry, "
                    "or discard the event and correct the WMS."
                ),
                key_fields={"lots": names},
            )

    @api.model
    def _logistics_contract(self, contract_code):
        """The active outbound version of ``contract_code`` (empty when an admin retired it:
        then nothing is sent, and stock operations go on)."""
        return self.env["mfg.integration.contract"]._active_outbound(contract_code)

    @api.model
    def _logistics_destinations(self, contract_code):
        """The systems subscribed to ``contract_code`` that can receive it."""
        contract = self._logistics_contract(contract_code)
        if not contract:
            return self.env["mfg.integration.system"].sudo().browse()
        return outbound_destinations(self.env, contract, None)

    @api.model
    def _logistics_emit(self, contract_code, items, systems=None):
        """Emit ``items`` to ``systems`` (default: every subscribed system), leaving out the
        systems that cannot receive the contract (not subscribed, no delivery adapter)."""
        Event = self.sudo()
        contract = self._logistics_contract(contract_code)
        if not contract or not items:
            return Event.browse()
        if systems is not None:
            systems = systems.sudo().filtered(
                lambda s: s.active and s.outbound_adapter and s._allows(contract)
            )
            if not systems:
                return Event.browse()
        return Event._emit_many(contract_code, items, systems=systems)

    @api.model
    def _logistics_code(self, system, kind, record, fallback):
        """The code ``system`` knows ``record`` by: its mapping, else ``fallback``."""
        line = (
            self.env["mfg.integration.mapping.line"]
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
            if system and record
            else None
        )
        return line.external_code if line else fallback
