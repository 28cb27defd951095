"""The inbox's crons: batch contracts, and the safety net after crashes or lost wake-ups."""

import logging

from odoo import fields

from ..services.event_states import P_AHEAD_OF_E, PENDING_STATES
from . import jobs

_logger = logging.getLogger(__name__)
# Stalled events one cron run requeues.
RESUME_LIMIT = 20000


def process_batch_contracts(env, limit=5000):
    """Batch contracts: events left 'received' by the API are processed here."""
    events = env["mfg.integration.event"].search(
        [("state", "=", "received"), ("direction", "=", "inbound")], limit=limit, order="id"
    )
    jobs.enqueue_in_chunks(events)
    return len(events)


def resume_stalled(env):
    """Requeue inbound events whose wake-up was lost; returns how many.

    * queued events, and events waiting for a prerequisite, whose retry time has
      passed but whose job is gone, finished or failed (a worker killed mid-batch);
    * events waiting for an earlier event of their subject that is no longer pending.
    Claiming with SKIP LOCKED in the job makes a spurious requeue harmless.
    """
    now = fields.Datetime.now()
    env.flush_all()
    env.cr.execute(
        f"""
        SELECT e.id
          FROM mfg_integration_event e
          LEFT JOIN queue_job j ON j.uuid = e.job_uuid
         WHERE (e.state = 'queued' OR (e.state = 'waiting' AND e.wait_reason = 'prerequisite'))
           AND e.direction = 'inbound'
           AND (j.id IS NULL OR j.state IN ('done', 'failed', 'cancelled'))
           AND COALESCE(e.next_attempt_at, e.write_date) <= %(now)s
        UNION
        SELECT e.id
          FROM mfg_integration_event e
         WHERE e.state = 'waiting' AND e.wait_reason = 'order'
           AND NOT EXISTS (
               SELECT 1 FROM mfg_integration_event p
                WHERE p.state IN %(pending)s AND {P_AHEAD_OF_E})
         LIMIT %(limit)s
        """,
        {"now": now, "pending": PENDING_STATES, "limit": RESUME_LIMIT},
    )
    ids = [row[0] for row in env.cr.fetchall()]
    if ids:
        _logger.warning("Requeueing %s stalled integration events", len(ids))
        jobs.enqueue_in_chunks(env["mfg.integration.event"].browse(ids))
    return len(ids)
