from odoo import _, api, fields, models

from ..services import genealogy

DIRECTIONS = [
    ("component", "Made From"),
    ("used_in", "Went Into"),
    ("delivery", "Delivered"),
    ("stock", "In Stock"),
]


class MfgQualityGenealogyLine(models.TransientModel):
    _name = "mfg.quality.genealogy.line"
    _description = "Lot Genealogy Line"
    _order = "sequence"

    root_lot_id = fields.Many2one("stock.lot", string="Traced Lot", required=True, index=True)
    sequence = fields.Integer()
    direction = fields.Selection(DIRECTIONS, required=True)
    level = fields.Integer()
    lot_id = fields.Many2one("stock.lot", string="Lot/Serial", required=True)
    product_id = fields.Many2one(related="lot_id.product_id")
    on_hold = fields.Boolean(related="lot_id.mfg_on_hold")
    parent_lot_id = fields.Many2one("stock.lot", string="Reached From")
    indented_name = fields.Char(string="Lot Tree")
    repeated = fields.Boolean(help="Listed again under another parent; expanded above.")
    picking_id = fields.Many2one("stock.picking", string="Delivery")
    partner_id = fields.Many2one(related="picking_id.partner_id", string="Customer")
    location_id = fields.Many2one("stock.location", string="Location")
    quantity = fields.Float(digits="Product Unit of Measure")
    date = fields.Datetime()

    @api.model
    def _values_for(self, lot):
        """The lines of ``lot``'s genealogy: both trees depth-first, then its deliveries and
        where its material is in stock now."""
        found = lot._mfg_genealogy()
        Lot = self.env["stock.lot"].with_context(active_test=False)
        lot_ids = {lot.id}
        for key in ("components", "used_in"):
            lot_ids.update(edge[0] for edge in found[key])
        names = {record.id: record.name for record in Lot.browse(sorted(lot_ids))}
        values = []

        def add(**row):
            values.append(dict(row, root_lot_id=lot.id, sequence=len(values) + 1))

        for direction, key in (("component", "components"), ("used_in", "used_in")):
            for child, parent, level, repeated in genealogy.tree(lot.id, found[key]):
                add(
                    direction=direction,
                    level=level,
                    lot_id=child,
                    parent_lot_id=parent,
                    repeated=repeated,
                    indented_name="\u2003" * (level - 1)
                    + names[child]
                    + (" \u21a9" if repeated else ""),
                )
        for lot_id, picking, quantity, date in sorted(found["deliveries"], key=lambda d: d[3]):
            add(
                direction="delivery",
                lot_id=lot_id,
                indented_name=names[lot_id],
                picking_id=picking,
                quantity=quantity,
                date=date,
            )
        for lot_id, location, quantity in found["stock"]:
            add(
                direction="stock",
                lot_id=lot_id,
                indented_name=names[lot_id],
                location_id=location,
                quantity=quantity,
            )
        return values

    @api.model
    def _open_for(self, lot):
        lines = self.create(self._values_for(lot))
        return {
            "type": "ir.actions.act_window",
            "name": _("Genealogy of %s", lot.display_name),
            "res_model": self._name,
            "view_mode": "list",
            "views": [
                (
                    self.env.ref("mfg_integration_quality.view_mfg_quality_genealogy_line_list").id,
                    "list",
                )
            ],
            "search_view_id": self.env.ref(
                "mfg_integration_quality.view_mfg_quality_genealogy_line_search"
            ).id,
            "domain": [("id", "in", lines.ids)],
            "context": {"group_by": "direction"},
            "target": "current",
        }
