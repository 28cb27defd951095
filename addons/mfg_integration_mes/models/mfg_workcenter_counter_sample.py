from datetime import timedelta

from odoo import api, fields, models

# Samples older than this are deleted: OEE rows of older shifts are kept, and a refresh
# reaches back at most a week (plus the sample before it).
SAMPLE_RETENTION_DAYS = 30


class MfgWorkcenterCounterSample(models.Model):
    _name = "mfg.workcenter.counter.sample"
    _description = "Machine Counter Sample"
    _order = "sampled_at desc, id desc"
    _rec_name = "counter"

    workcenter_id = fields.Many2one(
        "mrp.workcenter", string="Work Center", required=True, ondelete="cascade", readonly=True
    )
    counter = fields.Char(required=True, readonly=True, help="As the machine names it.")
    value = fields.Float(required=True, readonly=True)
    sampled_at = fields.Datetime(string="Sampled At", required=True, readonly=True)
    system_id = fields.Many2one(
        "mfg.integration.system", string="Reported By", readonly=True, ondelete="set null"
    )

    def init(self):
        # the OEE reads one work center's counters over a shift, and the sample just before
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS mfg_workcenter_counter_sample_lookup
                ON mfg_workcenter_counter_sample (workcenter_id, counter, sampled_at)
            """
        )

    @api.model
    def _cron_purge(self):
        """Delete samples past the retention (one statement: they arrive every second)."""
        cutoff = fields.Datetime.now() - timedelta(days=SAMPLE_RETENTION_DAYS)
        self.flush_model()
        self.env.cr.execute(
            "DELETE FROM mfg_workcenter_counter_sample WHERE sampled_at < %s", [cutoff]
        )
        self.invalidate_model()
        return self.env.cr.rowcount

    @api.model
    def _samples(self, workcenter, start, end):
        """{counter: [(sampled_at, value), ...]} of ``workcenter`` in [start, end), each with
        the last sample before ``start`` (the baseline the first increase counts from)."""
        self.flush_model()
        self.env.cr.execute(
            """
            SELECT counter, sampled_at, value
              FROM mfg_workcenter_counter_sample
             WHERE workcenter_id = %(workcenter)s AND sampled_at >= %(start)s
               AND sampled_at < %(end)s
             UNION ALL
            (SELECT DISTINCT ON (counter) counter, sampled_at, value
               FROM mfg_workcenter_counter_sample
              WHERE workcenter_id = %(workcenter)s AND sampled_at < %(start)s
              ORDER BY counter, sampled_at DESC, id DESC)
            """,
            {"workcenter": workcenter.id, "start": start, "end": end},
        )
        samples = {}
        for counter, sampled_at, value in self.env.cr.fetchall():
            samples.setdefault(counter, []).append((sampled_at, value))
        return samples
