from odoo import fields, models


class MfgIntegrationAssignWizard(models.TransientModel):
    _name = "mfg.integration.assign.wizard"
    _inherit = ["mfg.integration.exception.selection"]
    _description = "Assign Integration Exceptions"

    exception_ids = fields.Many2many("mfg.integration.exception", string="Exceptions")
    user_id = fields.Many2one(
        "res.users",
        string="Assign To",
        required=True,
        domain=lambda self: [
            (
                "groups_id",
                "in",
                self.env.ref("mfg_integration_base.group_mfg_integration_user").ids,
            ),
            ("share", "=", False),
        ],
        default=lambda self: self.env.user,
    )

    def action_assign(self):
        self.exception_ids._check_open()
        self.exception_ids.write({"user_id": self.user_id.id, "state": "in_progress"})
        return {"type": "ir.actions.act_window_close"}
