from odoo import _, fields, models, tools
from odoo.exceptions import UserError

from .mfg_integration_mapping import MAPPING_KINDS


class MfgIntegrationUnmappedCode(models.Model):
    """Codes external systems sent that Odoo cannot map yet, from the open exceptions:
    one line per system, kind and code, with how many exceptions wait on it."""

    _name = "mfg.integration.unmapped.code"
    _description = "Code Seen Without a Mapping"
    _auto = False
    _order = "exception_count desc, first_seen"

    system_id = fields.Many2one("mfg.integration.system", readonly=True)
    kind = fields.Selection(
        [(kind, label) for kind, (_model, label) in MAPPING_KINDS.items()], readonly=True
    )
    external_code = fields.Char(string="Code", readonly=True)
    exception_count = fields.Integer(string="Waiting Exceptions", readonly=True)
    first_seen = fields.Datetime(readonly=True)
    last_seen = fields.Datetime(readonly=True)
    exception_id = fields.Many2one(
        "mfg.integration.exception", string="First Exception", readonly=True
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            f"""
            CREATE VIEW {self._table} AS (
                SELECT MIN(x.id) AS id, MIN(x.id) AS exception_id, x.system_id,
                       x.mapping_kind AS kind, x.external_code,
                       COUNT(*) AS exception_count, MIN(x.create_date) AS first_seen,
                       MAX(x.create_date) AS last_seen
                  FROM mfg_integration_exception x
                 WHERE x.reason_code = 'mapping_missing' AND x.state IN ('open', 'in_progress')
                   AND x.mapping_kind IS NOT NULL AND x.external_code IS NOT NULL
                 GROUP BY x.system_id, x.mapping_kind, x.external_code
            )
            """
        )

    def action_create_mapping(self):
        self.ensure_one()
        if not self.exception_id:
            raise UserError(_("This code no longer waits on a mapping."))
        return self.exception_id.action_create_mapping()
