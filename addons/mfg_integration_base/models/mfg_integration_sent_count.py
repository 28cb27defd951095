from odoo import fields, models


class MfgIntegrationSentCount(models.Model):
    """What a system reports it sent per day and contract, beside what Odoo received."""

    _name = "mfg.integration.sent.count"
    _description = "Events Sent per Day (reported)"
    _order = "day desc, system_id, event_type"

    system_id = fields.Many2one(
        "mfg.integration.system", required=True, ondelete="cascade", index=True
    )
    day = fields.Date(required=True, index=True)
    event_type = fields.Char(string="Contract", required=True)
    reported_count = fields.Integer(string="Sent (reported)", required=True)
    received_count = fields.Integer(string="Received", compute="_compute_received_count")
    missing_count = fields.Integer(string="Missing", compute="_compute_received_count")
    reported_by_event_id = fields.Many2one("mfg.integration.event", ondelete="set null")

    _sql_constraints = [
        (
            "day_type_unique",
            "unique(system_id, day, event_type)",
            "One count per system, day and contract.",
        ),
    ]

    def _compute_received_count(self):
        if not self.ids:
            for count in self:
                count.received_count = count.missing_count = 0
            return
        self.env.cr.execute(
            """
            SELECT c.id, COUNT(e.id)
              FROM mfg_integration_sent_count c
              LEFT JOIN mfg_integration_event e
                ON e.system_id = c.system_id AND e.event_type = c.event_type
               AND e.direction = 'inbound' AND e.state <> 'rejected'
               AND e.occurred_at >= c.day AND e.occurred_at < c.day + 1
             WHERE c.id = ANY(%s)
             GROUP BY c.id
            """,
            [list(self.ids)],
        )
        received = dict(self.env.cr.fetchall())
        for count in self:
            count.received_count = received.get(count.id, 0)
            count.missing_count = max(0, count.reported_count - count.received_count)
