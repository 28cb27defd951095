from odoo import fields, models


class MfgIntegrationSystem(models.Model):
    _inherit = "mfg.integration.system"

    kind = fields.Selection(
        selection_add=[("wms", "Warehouse management system"), ("crm", "CRM")],
        ondelete={"wms": "set default", "crm": "set default"},
    )
