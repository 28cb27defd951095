from odoo import fields, models


class MrpProduction(models.Model):
    _inherit = "mrp.production"

    mfg_check_ids = fields.One2many("mfg.quality.check", "production_id", string="Quality Checks")
    mfg_check_count = fields.Integer(compute="_compute_mfg_quality_counts")
    mfg_hold_count = fields.Integer(compute="_compute_mfg_quality_counts")

    def _mfg_lots(self):
        """Lots the order consumes or produces (reserved, picked or done)."""
        lines = (self.move_raw_ids | self.move_finished_ids).move_line_ids
        return lines.lot_id | self.lot_producing_id

    def _compute_mfg_quality_counts(self):
        Hold = self.env["mfg.quality.hold"]
        for production in self:
            production.mfg_check_count = len(production.mfg_check_ids)
            lots = production._mfg_lots()
            production.mfg_hold_count = (
                Hold.search_count([("lot_id", "in", lots.ids)]) if lots else 0
            )

    def action_view_mfg_checks(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_quality.action_mfg_quality_check"
        )
        action["domain"] = [("production_id", "=", self.id)]
        action["context"] = {
            "default_production_id": self.id,
            "default_product_id": self.product_id.id,
        }
        return action

    def action_view_mfg_holds(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_quality.action_mfg_quality_hold"
        )
        action["domain"] = [("lot_id", "in", self._mfg_lots().ids)]
        action["context"] = {}
        return action
