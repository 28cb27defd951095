from odoo import fields, models


class MrpBom(models.Model):
    _inherit = "mrp.bom"

    sap_bom_key = fields.Char(
        string="SAP BoM",
        copy=False,
        index=True,
        readonly=True,
        help="Material/plant/BoM/variant of the SAP material BoM this BoM was pulled from.",
    )
    sap_system_id = fields.Many2one(
        "mfg.integration.system", string="SAP System", copy=False, readonly=True
    )
