from odoo import fields, models


class MaintenanceRequest(models.Model):
    _inherit = "maintenance.request"

    downtime_ids = fields.One2many(
        "mrp.workcenter.productivity",
        "maintenance_request_id",
        string="Work Center Stops",
        readonly=True,
    )
