from odoo import fields, models


class MrpProduction(models.Model):
    _inherit = "mrp.production"

    integration_event_count = fields.Integer(
        compute="_compute_integration_event_count", string="Integration Events"
    )

    def _compute_integration_event_count(self):
        Event = self.env["mfg.integration.event"]
        if not Event.has_access("read"):
            self.integration_event_count = 0
            return
        for production in self:
            production.integration_event_count = Event.search_count(
                production._integration_event_domain()
            )

    def action_view_integration_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_event"
        )
        action["domain"] = self._integration_event_domain()
        return action

    def _integration_event_domain(self):
        # Events name the order by its reference (the subject), or resulted in it.
        return [
            "|",
            ("subject", "in", self.mapped("name")),
            "&",
            ("result_model", "=", "mrp.production"),
            ("result_res_id", "in", self.ids),
        ]
