from odoo import _, fields, models


class StockLocation(models.Model):
    _inherit = "stock.location"

    mfg_quarantine = fields.Boolean(
        string="Quarantine Location",
        index=True,
        help="Held lots are kept here until released. Odoo never reserves from it for "
        "manufacturing orders or deliveries.",
    )

    def _mfg_quarantine_location(self):
        """The quarantine location of this location's warehouse (made on first use, under
        the warehouse's stock location, so held stock still counts as on hand)."""
        self.ensure_one()
        warehouse = self.warehouse_id
        parent = warehouse.lot_stock_id if warehouse else self
        quarantine = self.search(
            [("mfg_quarantine", "=", True), ("location_id", "=", parent.id)], limit=1
        )
        if not quarantine:
            quarantine = self.sudo().create(
                {
                    "name": _("Quarantine"),
                    "location_id": parent.id,
                    "usage": "internal",
                    "mfg_quarantine": True,
                    "company_id": parent.company_id.id,
                }
            )
        return quarantine

    def _mfg_release_location(self):
        """Where stock released from this quarantine location goes back to."""
        self.ensure_one()
        if self.location_id.usage == "internal":
            return self.location_id
        return self.warehouse_id.lot_stock_id or self.location_id
