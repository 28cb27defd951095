from odoo import api, fields, models


class MfgWmsCount(models.Model):
    """One counted line a WMS reported (wms.inventory.adjusted), as applied in Odoo.

    Kept so that a movement Odoo receives after a count, but dated before it, is known to be
    part of that count at the counted location (and does not change it a second time).
    """

    _name = "mfg.wms.count"
    _description = "WMS Count"
    _order = "counted_at desc, id desc"

    system_id = fields.Many2one(
        "mfg.integration.system", required=True, ondelete="cascade", index=True
    )
    count_ref = fields.Char(string="Count", required=True, index=True)
    counted_at = fields.Datetime(required=True, index=True)
    reason = fields.Char()
    product_id = fields.Many2one("product.product", required=True, ondelete="cascade", index=True)
    location_id = fields.Many2one("stock.location", required=True, ondelete="cascade", index=True)
    lot_id = fields.Many2one("stock.lot", ondelete="cascade", index=True)
    quantity = fields.Float(string="Counted Quantity", digits="Product Unit of Measure")
    quantity_before = fields.Float(
        string="Odoo Quantity Then",
        digits="Product Unit of Measure",
        help="What Odoo held at the location at the count's time, before the adjustment.",
    )
    uom_id = fields.Many2one(related="product_id.uom_id", string="Unit")
    move_id = fields.Many2one("stock.move", string="Adjustment", ondelete="set null")
    event_id = fields.Many2one("mfg.integration.event", ondelete="set null", index=True)
    applied = fields.Boolean(
        help="False when a later count of the same product, location and lot had already "
        "arrived: this older count changed nothing."
    )

    @api.model
    def _latest(self, system, product, location, lot):
        """The newest applied count of this product, location and lot from ``system``."""
        return self.search(
            [
                ("system_id", "=", system.id),
                ("product_id", "=", product.id),
                ("location_id", "=", location.id),
                ("lot_id", "=", lot.id or False),
                ("applied", "=", True),
            ],
            limit=1,
        )
