from odoo import fields, models


class MrpWorkcenterProductivityLoss(models.Model):
    _inherit = "mrp.workcenter.productivity.loss"

    breakdown = fields.Boolean(
        string="Machine Breakdown",
        help="A stop reported for this reason opens a corrective maintenance request on the "
        "equipment of the work center.",
    )
