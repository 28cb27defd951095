from odoo import models

from odoo.addons.mfg_integration_base.services.errors import BusinessError, MappingMissing


class MfgIntegrationEvent(models.Model):
    _inherit = "mfg.integration.event"

    def _quality_product(self, code):
        """The product the system's mapping gives ``code``, else the one with that internal
        reference; neither: the missing-mapping exception."""
        try:
            return self._map("product", code)
        except MappingMissing as missing:
            found = self.env["product.product"].search([("default_code", "=", code)], limit=2)
            if len(found) == 1:
                return found
            raise missing from None

    def _quality_lot(self, product, name):
        """Lot ``name`` of ``product``: a quality event about a lot Odoo does not know is a
        person's exception (a typo on a label must not create a lot)."""
        try:
            lot = self._map("lot", name)
            if lot.product_id == product:
                return lot
        except MappingMissing:
            pass
        lot = self.env["stock.lot"].search(
            [("product_id", "=", product.id), ("name", "=", name)], limit=1
        )
        if lot:
            return lot
        raise BusinessError(
            "lot_unknown",
            self.env._(
                "Lot %(lot)s of %(product)s is unknown in Odoo",
                lot=name,
                product=product.display_name,
            ),
            suggested_action=self.env._(
                "Check the lot label: correct the lot in the event's data, or create a lot "
                "mapping for this system, then retry."
            ),
            key_fields={"lot": name, "product": product.default_code or ""},
        )
