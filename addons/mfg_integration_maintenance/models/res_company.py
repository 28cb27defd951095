from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    maintenance_labour_rate = fields.Float(
        string="Maintenance Labour Rate",
        help="Cost of one technician hour, for equipment without a rate of its own: a "
        "request's labour cost is the CMMS's hours at this rate.",
    )
    maintenance_location_id = fields.Many2one(
        "stock.location",
        string="Maintenance Location",
        domain="[('usage', '=', 'internal')]",
        help="Where spare parts reserved for maintenance work go (an internal transfer from "
        "stock).",
    )
    maintenance_consumption_location_id = fields.Many2one(
        "stock.location",
        string="Maintenance Consumption Location",
        domain="[('usage', '=', 'inventory')]",
        help="Where spare parts used by maintenance work leave stock, at their cost.",
    )
