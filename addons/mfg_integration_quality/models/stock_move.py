from odoo import fields, models


class StockMove(models.Model):
    _inherit = "stock.move"

    mfg_quality_hold_id = fields.Many2one(
        "mfg.quality.hold",
        string="Quality Hold",
        index="btree_not_null",
        readonly=True,
        copy=False,
        help="The hold that moved this stock into or out of quarantine.",
    )

    def _action_done(self, cancel_backorder=False):
        # lines prepared before the hold was placed, or written past the UI's check
        if not self.env.context.get("mfg_quality_transfer"):
            self.move_line_ids.filtered(lambda line: line.quantity)._mfg_check_hold()
        return super()._action_done(cancel_backorder=cancel_backorder)
