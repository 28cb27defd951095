from odoo import _, api, models
from odoo.tools.sql import create_index

from ..services import genealogy

# Written fields that (re)decide what a line does with its lot.
CHECKED_FIELDS = {"lot_id", "quantity", "picked", "location_id", "location_dest_id", "move_id"}


class StockMoveLine(models.Model):
    _inherit = "stock.move.line"

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines._mfg_check_hold()
        return lines

    def write(self, vals):
        result = super().write(vals)
        if CHECKED_FIELDS & set(vals):
            self._mfg_check_hold()
        return result

    def _mfg_hold_usage(self):
        """What this line would do to its lot that a hold forbids, in words; None: nothing."""
        self.ensure_one()
        production = self.move_id.raw_material_production_id
        if production:
            return _("consumed by %s", production.name)
        if self.location_dest_id.usage == "customer" or self.picking_code == "outgoing":
            return _("shipped (%s)", self.picking_id.name or self.reference or "")
        if self.location_id.mfg_quarantine and not self.location_dest_id.mfg_quarantine:
            return _("taken out of quarantine")
        return None

    def _mfg_check_hold(self):
        """LotOnHoldError when a line takes a held lot to a use the hold forbids."""
        if self.env.context.get("mfg_quality_transfer"):
            return
        held = self.filtered(lambda line: line.lot_id.mfg_on_hold and line.state != "cancel")
        for line in held:
            usage = line._mfg_hold_usage()
            if usage:
                self.env["mfg.quality.hold"]._check_lots_usable(line, usage)

    def init(self):
        result = super().init()
        # genealogy's recursive steps look up done move lines by lot (services/genealogy.py)
        create_index(
            self.env.cr,
            genealogy.LOT_INDEX,
            self._table,
            ["lot_id", "id"],
            where="state = 'done' AND lot_id IS NOT NULL",
        )
        return result
