from odoo import api, fields, models

from ..services import genealogy, hold_messages


class StockLot(models.Model):
    _inherit = "stock.lot"

    mfg_hold_ids = fields.One2many("mfg.quality.hold", "lot_id", string="Quality Holds")
    mfg_on_hold = fields.Boolean(
        string="On Hold",
        compute="_compute_mfg_on_hold",
        store=True,
        index=True,
        help="A quality hold is in force: the lot may not be consumed or shipped.",
    )
    mfg_hold_count = fields.Integer(compute="_compute_mfg_quality_counts")
    mfg_check_count = fields.Integer(compute="_compute_mfg_quality_counts")
    mfg_ncr_count = fields.Integer(compute="_compute_mfg_quality_counts")

    @api.depends("mfg_hold_ids.state")
    def _compute_mfg_on_hold(self):
        for lot in self:
            lot.mfg_on_hold = any(hold.state == "held" for hold in lot.mfg_hold_ids)

    def _compute_mfg_quality_counts(self):
        def counts(model, field):
            return dict(
                self.env[model]._read_group([(field, "in", self.ids)], [field], ["__count"])
            )

        holds = counts("mfg.quality.hold", "lot_id")
        checks = counts("mfg.quality.check", "lot_id")
        ncrs = counts("mfg.quality.ncr", "lot_ids")
        for lot in self:
            lot.mfg_hold_count = holds.get(lot, 0)
            lot.mfg_check_count = checks.get(lot, 0)
            lot.mfg_ncr_count = ncrs.get(lot, 0)

    def _mfg_action(self, xmlid, field):
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = [(field, "in", self.ids)]
        action["context"] = {"default_" + field: self[:1].id} if field != "lot_ids" else {}
        return action

    def action_view_mfg_holds(self):
        return self._mfg_action("mfg_integration_quality.action_mfg_quality_hold", "lot_id")

    def action_view_mfg_checks(self):
        return self._mfg_action("mfg_integration_quality.action_mfg_quality_check", "lot_id")

    def action_view_mfg_ncrs(self):
        return self._mfg_action("mfg_integration_quality.action_mfg_quality_ncr", "lot_ids")

    def action_view_genealogy(self):
        self.ensure_one()
        return self.env["mfg.quality.genealogy.line"]._open_for(self)

    def _mfg_genealogy(self):
        """services.genealogy.trace of this lot, on flushed data (one SQL statement)."""
        self.ensure_one()
        self.env.flush_all()
        return genealogy.trace(self.env.cr, self.id)

    def _mfg_genealogy_document(self):
        """The lot's genealogy as the API answers it (GET /mfg/v1/genealogy/<lot>)."""
        self.ensure_one()
        found = self._mfg_genealogy()
        ids = {self.id}
        for key in ("components", "used_in"):
            ids.update(edge[0] for edge in found[key])
        lots = {lot.id: lot for lot in self.browse(sorted(ids))}

        def describe(lot_id):
            lot = lots[lot_id]
            return {
                "lot": lot.name,
                "product_code": lot.product_id.default_code or lot.product_id.display_name,
                "on_hold": lot.mfg_on_hold,
            }

        def branch(key):
            return [
                dict(
                    describe(child),
                    level=level,
                    reached_from=lots[parent].name,
                    repeated=repeated,
                )
                for child, parent, level, repeated in genealogy.tree(self.id, found[key])
            ]

        pickings = self.env["stock.picking"].browse({d[1] for d in found["deliveries"] if d[1]})
        locations = self.env["stock.location"].browse({s[1] for s in found["stock"]})
        picking_of = {p.id: p for p in pickings}
        location_of = {loc.id: loc for loc in locations}
        return dict(
            describe(self.id),
            components=branch("components"),
            used_in=branch("used_in"),
            deliveries=[
                {
                    "lot": lots[lot_id].name,
                    "delivery": picking_of[picking].name if picking else None,
                    "customer": picking_of[picking].partner_id.display_name or None
                    if picking
                    else None,
                    "quantity": quantity,
                    "uom": lots[lot_id].product_id.uom_id.name,
                    "date": hold_messages.stamp(date),
                }
                for lot_id, picking, quantity, date in sorted(
                    found["deliveries"], key=lambda d: d[3]
                )
            ],
            stock=[
                {
                    "lot": lots[lot_id].name,
                    "location": location_of[location].complete_name,
                    "quantity": quantity,
                    "uom": lots[lot_id].product_id.uom_id.name,
                }
                for lot_id, location, quantity in found["stock"]
            ],
        )
