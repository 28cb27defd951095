from odoo import models
from odoo.osv import expression


class StockQuant(models.Model):
    _inherit = "stock.quant"

    def _get_gather_domain(
        self, product_id, location_id, lot_id=None, package_id=None, owner_id=None, strict=False
    ):
        """Reservations (and the availability they count on) never take quarantined stock,
        unless quarantine itself is asked for (a hold's own moves)."""
        domain = super()._get_gather_domain(
            product_id, location_id, lot_id, package_id, owner_id, strict
        )
        if strict or self.env.context.get("mfg_quality_transfer") or location_id.mfg_quarantine:
            return domain
        return expression.AND([domain, [("location_id.mfg_quarantine", "=", False)]])
