from odoo import fields, models, tools


class MfgIntegrationEventAnalysis(models.Model):
    """Events by hour, contract and state for the graph and pivot views.

    A view over the event table (one row per event, no aggregation in the view), so the
    analysis' filters, usually the last day, reach the event table's indexes (BRIN on
    received_at). The hour is a text column because the web client groups dates by day
    at the finest.
    """

    _name = "mfg.integration.event.analysis"
    _description = "Integration Event Analysis"
    _auto = False
    _order = "received_at desc"
    _rec_name = "event_type"

    system_id = fields.Many2one("mfg.integration.system", readonly=True)
    contract_id = fields.Many2one("mfg.integration.contract", string="Contract", readonly=True)
    event_type = fields.Char(string="Type", readonly=True)
    direction = fields.Selection([("inbound", "Inbound"), ("outbound", "Outbound")], readonly=True)
    state = fields.Selection(
        selection=lambda self: self.env["mfg.integration.event"]._fields["state"].selection,
        readonly=True,
    )
    received_at = fields.Datetime(readonly=True)
    hour = fields.Char(string="Hour (UTC)", readonly=True)
    latency_s = fields.Float(string="Latency (s)", readonly=True, aggregator="avg")
    attempts = fields.Integer(readonly=True, aggregator="sum")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            f"""
            CREATE VIEW {self._table} AS (
                SELECT e.id, e.system_id, e.contract_id, e.event_type, e.direction, e.state,
                       e.received_at, to_char(e.received_at, 'YYYY-MM-DD HH24:00') AS hour,
                       e.latency_s, e.attempts
                  FROM mfg_integration_event e
            )
            """
        )
