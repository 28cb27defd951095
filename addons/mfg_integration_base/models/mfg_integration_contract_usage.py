from odoo import fields, models, tools


class MfgIntegrationContractUsage(models.Model):
    """Who sends which version of a contract: events per version and system, from the
    hourly counters, so an admin sees who still sends the old version before retiring it."""

    _name = "mfg.integration.contract.usage"
    _description = "Contract Versions per Sender"
    _auto = False
    _order = "contract_code, version_major desc, version_minor desc, system_id"

    contract_id = fields.Many2one("mfg.integration.contract", readonly=True)
    contract_code = fields.Char(readonly=True)
    version = fields.Char(readonly=True)
    version_major = fields.Integer(readonly=True)
    version_minor = fields.Integer(readonly=True)
    state = fields.Selection(related="contract_id.state")
    system_id = fields.Many2one("mfg.integration.system", string="Sender", readonly=True)
    received = fields.Integer(string="Events", readonly=True)
    received_24h = fields.Integer(string="Events (24 h)", readonly=True)
    received_30d = fields.Integer(string="Events (30 days)", readonly=True)
    last_received = fields.Datetime(string="Last Hour Received", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            f"""
            CREATE VIEW {self._table} AS (
                SELECT MIN(t.id) AS id, t.contract_id, c.code AS contract_code, c.version,
                       c.version_major, c.version_minor, t.system_id,
                       SUM(t.received) AS received,
                       SUM(t.received) FILTER (
                           WHERE t.hour >= now() at time zone 'utc' - interval '24 hours'
                       ) AS received_24h,
                       SUM(t.received) FILTER (
                           WHERE t.hour >= now() at time zone 'utc' - interval '30 days'
                       ) AS received_30d,
                       MAX(t.hour) FILTER (WHERE t.received > 0) AS last_received
                  FROM mfg_integration_traffic t
                  JOIN mfg_integration_contract c ON c.id = t.contract_id
                 GROUP BY t.contract_id, c.code, c.version, c.version_major, c.version_minor,
                          t.system_id
                HAVING SUM(t.received) > 0
            )
            """
        )
