"""The event log: the inbox and the outbox share one table, ``mfg.integration.event``.

This model keeps the fields, computes and actions; the engine lives in plain stage
modules taking ``env`` (see docs/architecture.md): ``inbox/`` (ingest, jobs, processing,
shadow runs, crons, retention) and ``outbox/`` (emit, dispatcher, outcomes, replay).
The methods below that queue_job, crons, the controller and other addons call are thin
entry points into those modules.
"""

import json

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools.misc import format_datetime

from ..inbox import ingest, jobs, processing, recovery, retention
from ..outbox import dispatcher, emit, replay
from ..services.event_states import PENDING_STATES, RETRYABLE_STATES, STATES
from ..services.handler_registry import registry as handler_registry
from ..services.registry import installed_modules
from ..services.timeline import timeline_html


class MfgIntegrationEvent(models.Model):
    _name = "mfg.integration.event"
    _description = "Integration Event"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _rec_name = "event_uid"

    direction = fields.Selection(
        [("inbound", "Inbound"), ("outbound", "Outbound")],
        required=True,
        default="inbound",
        readonly=True,
    )
    # not stored: the API and the outbox insert events with set-based SQL; the record rules
    # reach the company through the system
    company_id = fields.Many2one(related="system_id.company_id", string="Company")
    system_id = fields.Many2one(
        "mfg.integration.system", required=True, index=True, readonly=True, ondelete="restrict"
    )
    contract_id = fields.Many2one(
        "mfg.integration.contract", index=True, readonly=True, ondelete="restrict"
    )
    event_type = fields.Char(string="Type", readonly=True)
    contract_version = fields.Char(readonly=True)
    # searched through the idempotency key index (system_id, source, event_uid)
    event_uid = fields.Char(string="Event ID", readonly=True)
    source = fields.Char(readonly=True)
    subject = fields.Char(index=True, readonly=True, help="The business object; the ordering key.")
    sequence = fields.Char(readonly=True)
    correlation_id = fields.Char(index=True, readonly=True)
    causation_id = fields.Char(readonly=True)
    clock_quality = fields.Char(readonly=True)
    occurred_at = fields.Datetime(readonly=True, help="When it happened, per the source.")
    # BRIN index (see init): rows arrive in time order, so a block-range index serves
    # time-range queries at almost no cost per insert
    received_at = fields.Datetime(readonly=True)
    processed_at = fields.Datetime(readonly=True)
    latency_s = fields.Float(
        string="Latency (s)",
        readonly=True,
        digits=(16, 3),
        help="From occurrence at the source to processing in Odoo.",
    )
    payload = fields.Json(readonly=True)
    envelope_extra = fields.Json(readonly=True, string="Other Attributes")
    payload_hash = fields.Char(readonly=True)
    payload_purged = fields.Boolean(readonly=True)
    raw_body = fields.Text(readonly=True, help="What was sent, for events refused by the API.")
    state = fields.Selection(
        STATES,
        default="received",
        required=True,
        index=True,
        readonly=True,
    )
    wait_reason = fields.Selection(
        [("order", "Earlier event of the same subject"), ("prerequisite", "Prerequisite missing")],
        readonly=True,
    )
    wait_until = fields.Datetime(readonly=True, help="When waiting turns into an exception.")
    next_attempt_at = fields.Datetime(readonly=True)
    attempts = fields.Integer(readonly=True)
    job_uuid = fields.Char(readonly=True, index="btree_not_null", copy=False)
    result_model = fields.Char(readonly=True)
    result_res_id = fields.Many2oneReference(model_field="result_model", readonly=True)
    error_code = fields.Char(readonly=True)
    error_pointer = fields.Char(readonly=True)
    error = fields.Text(readonly=True)
    exception_id = fields.Many2one(
        "mfg.integration.exception", readonly=True, index="btree_not_null"
    )
    shadow = fields.Boolean(
        string="Shadow Run",
        readonly=True,
        index="btree_not_null",
        help="Processed in shadow mode: the handler ran and was rolled back; its effects "
        "are recorded below, nothing changed in Odoo.",
    )
    shadow_effects = fields.Json(readonly=True)
    original_payload = fields.Json(
        readonly=True,
        help="The data as first received, kept when a person corrected it or when it was "
        "converted from an older version of the contract.",
    )
    upcast_from_version = fields.Char(
        string="Converted From Version",
        readonly=True,
        help="The sender used this older version of the contract; Odoo converted the event to "
        "the current version on receipt (the data as received is kept).",
    )
    payload_pretty = fields.Text(compute="_compute_payload_pretty", string="Data")
    shadow_effects_pretty = fields.Text(
        compute="_compute_shadow_effects_pretty", string="What This Path Would Have Done"
    )
    original_payload_pretty = fields.Text(
        compute="_compute_original_payload_pretty", string="Data as Received"
    )
    timeline = fields.Html(compute="_compute_timeline", sanitize=False)

    def init(self):
        # The idempotency key. Partial: refused events are logged but hold no key, so a
        # corrected resend under the same id is accepted.
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS mfg_integration_event_idempotency_key
                ON mfg_integration_event (system_id, source, event_uid)
             WHERE direction = 'inbound' AND state <> 'rejected'
            """
        )
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS mfg_integration_event_received_at_brin
                ON mfg_integration_event USING brin (received_at)
            """
        )
        # the inbox's pending events of a subject (processing order, recovery)
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS mfg_integration_event_pending_subject
                ON mfg_integration_event (subject, occurred_at, sequence, id)
             WHERE state IN ('received', 'queued', 'processing', 'waiting', 'failed', 'dead')
            """
        )
        # Vacuum the event log after 2 % of its rows changed or arrived, not PostgreSQL's
        # default 20 % (200,000 rows at a million events): the pending events' pages must be
        # all-visible for the backlog figures to stay an index-only scan (bench_metrics.py).
        self.env.cr.execute(
            """
            ALTER TABLE mfg_integration_event SET (
                autovacuum_vacuum_scale_factor = 0.02,
                autovacuum_vacuum_insert_scale_factor = 0.02,
                autovacuum_analyze_scale_factor = 0.02)
            """
        )
        # the retention purge's oldest unpurged finished events of each system
        self.env.cr.execute(retention.TO_PURGE_INDEX)
        # the dispatcher's claim: ready events of one system, by subject
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS mfg_integration_event_outbox
                ON mfg_integration_event (system_id, subject, occurred_at, sequence, id)
             WHERE direction = 'outbound' AND state IN %s
            """,
            [PENDING_STATES],
        )

    # -- computes -----------------------------------------------------------------------

    @api.depends("event_type", "subject", "event_uid")
    def _compute_display_name(self):
        for event in self:
            event.display_name = (
                f"{event.event_type or _('Unknown')} {event.subject or event.event_uid or ''}"
            )

    @api.depends("payload")
    def _compute_payload_pretty(self):
        for event in self:
            event.payload_pretty = _pretty_json(event.payload)

    @api.depends("shadow_effects")
    def _compute_shadow_effects_pretty(self):
        for event in self:
            event.shadow_effects_pretty = _pretty_json(event.shadow_effects or None)

    @api.depends("original_payload")
    def _compute_original_payload_pretty(self):
        for event in self:
            event.original_payload_pretty = _pretty_json(event.original_payload or None)

    def _compute_timeline(self):
        jobs_by_uuid = {
            job.uuid: job
            for job in self.env["queue.job"]
            .sudo()
            .search([("uuid", "in", [uuid_ for uuid_ in self.mapped("job_uuid") if uuid_])])
        }
        for event in self:
            job = jobs_by_uuid.get(event.job_uuid)
            steps = [
                (_("Occurred at the source"), event.occurred_at, ""),
                (_("Received by Odoo"), event.received_at, ""),
                (_("Queued"), job and job.date_created, (job and job.state) or ""),
                (_("Job started"), job and job.date_started, ""),
                (
                    _("Processed"),
                    event.processed_at,
                    _("%(n)s attempt(s)", n=event.attempts) if event.attempts else "",
                ),
            ]
            if event.next_attempt_at:
                steps.append((_("Next attempt"), event.next_attempt_at, ""))
            event.timeline = timeline_html(
                steps,
                lambda moment: format_datetime(self.env, moment, dt_format="medium"),
                _("Latency from occurrence to Odoo:") if event.state == "done" else None,
                event.latency_s,
            )

    # -- actions (also used by the exception queue) -------------------------------------

    def action_retry(self):
        """Process (inbound) or deliver (outbound) again now, after a fix: failed, dead,
        waiting or queued events."""
        retryable = self.filtered(lambda e: e.state in RETRYABLE_STATES)
        if len(retryable) != len(self):
            raise UserError(_("Only failed, dead, waiting or queued events can be retried."))
        retryable.sudo().write(
            {
                "state": "queued",
                "attempts": 0,
                "wait_reason": False,
                "wait_until": False,
                "next_attempt_at": False,
            }
        )
        retryable.sudo()._enqueue_in_chunks()
        return True

    def action_view_result(self):
        self.ensure_one()
        if not self.result_model or not self.result_res_id:
            raise UserError(_("This event did not result in an Odoo record."))
        return {
            "type": "ir.actions.act_window",
            "res_model": self.result_model,
            "res_id": self.result_res_id,
            "view_mode": "form",
        }

    def action_view_correlated(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_event"
        )
        action["domain"] = [("correlation_id", "=", self.correlation_id)]
        return action

    # -- the outbox's entry points for business code ------------------------------------

    @api.private
    @api.model
    def emit(
        self,
        contract_code,
        data,
        subject=None,
        correlation_id=None,
        causation_id=None,
        systems=None,
        version=None,
    ):
        """Write an outbound event of ``contract_code`` in the current transaction.

        ``data`` is validated against the active outbound contract version (``version``,
        or the newest) before anything is written: invalid data raises a ValidationError
        naming the field. One event row per destination system (``systems``: records, ids
        or codes; default: active systems with a delivery adapter whose allowed contracts
        include this one), each delivered only once the transaction commits. Returns the
        event rows (empty when no system receives this contract).
        """
        item = {
            "data": data,
            "subject": subject,
            "correlation_id": correlation_id,
            "causation_id": causation_id,
        }
        return self._emit_many(contract_code, [item], systems=systems, version=version)

    @api.model
    def api_emit(self, contract_code, events, systems=None, version=None):
        """``emit`` for integration managers over RPC (tests, a replayed interface):
        ``events`` is a list of dicts with data, subject, correlation_id, causation_id.
        Returns the CloudEvents ids written."""
        if not self.env.user.has_group("mfg_integration_base.group_mfg_integration_manager"):
            raise AccessError(_("Only an Integration Manager can emit outbound events."))
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise UserError(_("events must be a list of objects with at least 'data'."))
        return self.sudo()._emit_many(contract_code, events, systems, version).mapped("event_uid")

    # -- private: entry points into the stage modules -----------------------------------

    @api.model
    def _handler_registry(self):
        return handler_registry

    @api.model
    def _installed_modules(self):
        return installed_modules(self.env)

    def _map(self, kind, external_code):
        """The Odoo record mapped to an external code of this event's system."""
        self.ensure_one()
        return self.env["mfg.integration.mapping"]._resolve(self.system_id, kind, external_code)

    @api.model
    def _contract_table(self):
        """{code: {version: contract}} of inbound contracts the API accepts today."""
        return ingest.contract_table(self.env)

    @api.model
    def _ingest(self, system, envelopes):
        """Validate, persist and enqueue a batch of envelopes posted by ``system``: one
        answer per envelope (see inbox/ingest.py)."""
        return ingest.ingest(self.env, system, envelopes)

    @api.model
    def _log_refused_request(self, system, raw_body, code, message):
        """A whole request refused (malformed, too large): keep its first bytes."""
        return ingest.log_refused_request(self.env, system, raw_body, code, message)

    def _process_chunk(self):
        """Job: apply the chunk's events in subject order (see inbox/processing.py)."""
        return processing.process_chunk(self)

    @api.model
    def _keep_stored_times(self, system, envelopes):
        """For a sender that rebuilds its events from a source read again (an SAP pull's
        re-read second, a CSV file imported twice) and stamps them when it reads: an event
        id already stored keeps the time it was stored with, so the resend is answered
        'duplicate' instead of refused as an id reused with other content. One query,
        through the idempotency key's index; ``envelopes`` are changed in place."""
        by_source = {}
        for envelope in envelopes:
            by_source.setdefault(envelope.get("source"), []).append(envelope)
        for source, group in by_source.items():
            self.env.cr.execute(
                """
                SELECT event_uid, occurred_at FROM mfg_integration_event
                 WHERE system_id = %s AND source = %s AND event_uid = ANY(%s)
                   AND direction = 'inbound' AND state <> 'rejected'
                """,
                [system.id, source, [envelope.get("id") for envelope in group]],
            )
            stored = {uid: occurred for uid, occurred in self.env.cr.fetchall() if occurred}
            for envelope in group:
                if envelope.get("id") in stored:
                    envelope["time"] = stored[envelope["id"]].strftime("%Y-%m-%dT%H:%M:%SZ")
        return envelopes

    @api.model
    def _emit_many(self, contract_code, items, systems=None, version=None):
        """Set-based ``emit``: a constant number of queries for any number of events."""
        return emit.emit_many(self.env, contract_code, items, systems, version)

    @api.model
    def _schedule_dispatch(self, system_ids, eta=None):
        """A dispatcher job for each system, at ``eta`` or sooner (see outbox/dispatcher.py)."""
        return dispatcher.schedule_dispatch(self.env, system_ids, eta)

    @api.model
    def _dispatch_system(self, system_id):
        """Job: one delivery round for one system (see outbox/dispatcher.py)."""
        return dispatcher.dispatch_system(self.env, system_id)

    def _enqueue_in_chunks(self):
        """Inbound events to processing jobs; outbound ones to their system's dispatcher."""
        outbound = self.filtered(lambda event: event.direction == "outbound")
        if outbound:
            dispatcher.schedule_dispatch(self.env, outbound.system_id.ids)
        jobs.enqueue_in_chunks(self - outbound)

    def _discard(self, reason):
        """A person gave up on these events: later events of their subjects may go now."""
        subjects = set(self.filtered("subject").mapped("subject"))
        outbound_systems = self.filtered(lambda event: event.direction == "outbound").system_id
        self.sudo().write({"state": "discarded", "error": reason, "wait_reason": False})
        if subjects:
            processing.release_subjects(self.env, subjects)
        if outbound_systems:
            dispatcher.schedule_dispatch(self.env, outbound_systems.ids)

    def _replay(self, reason):
        """Deliver these outbound events again (see outbox/replay.py)."""
        return replay.replay(self, reason)

    @api.model
    def _cron_process_batch_contracts(self, limit=5000):
        """Batch contracts: events left 'received' by the API are processed here."""
        return recovery.process_batch_contracts(self.env, limit)

    @api.model
    def _cron_resume_stalled(self):
        """Safety net after crashes or lost wake-ups, for the inbox and the outbox; returns
        the number of inbound events requeued."""
        resumed = recovery.resume_stalled(self.env)
        dispatcher.resume_stalled(self.env)
        return resumed

    @api.model
    def _cron_purge_payloads(self, batch_size=5000, max_batches=20):
        """Retention: see inbox/retention.py. A call stops after ``max_batches`` batches; it
        then tells the cron that work remains (Odoo's cron progress), so the cron runs it again
        at once, each call in its own transaction, up to 10 times a run: a million old events
        an hour instead of 100,000, and never one long transaction."""
        purged, deleted = retention.purge_payloads(self.env, batch_size, max_batches)
        bound = batch_size * max_batches
        self.env["ir.cron"]._notify_progress(
            done=purged + deleted, remaining=1 if bound in (purged, deleted) else 0
        )
        return purged, deleted


def _pretty_json(value):
    """JSON for people: indented, keys sorted, non-ASCII kept; False for no value."""
    if value is None:
        return False
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
