"""Retention: payloads of finished events are purged, and their rows deleted much later.

Rows are the inbox's idempotency keys: they stay after their payload is purged and are
deleted only after twice the system's retention, so a late resend is still answered
'duplicate'. Outbound rows follow the same rule. Bounded batches keep locks and WAL short.
"""

import logging

from ..services.event_states import FINAL_STATES

_logger = logging.getLogger(__name__)


def purge_payloads(env, batch_size=5000, max_batches=20):
    """Purge payloads past their system's retention, delete rows past twice of it;
    returns (purged, deleted)."""
    purged = deleted = 0
    env.flush_all()
    for _batch in range(max_batches):
        env.cr.execute(
            """
            UPDATE mfg_integration_event e
               SET payload = NULL, envelope_extra = NULL, raw_body = NULL, payload_purged = TRUE
             WHERE e.id IN (
                   SELECT e2.id FROM mfg_integration_event e2
                     JOIN mfg_integration_system s ON s.id = e2.system_id
                    WHERE e2.state IN %(final)s
                      AND NOT e2.payload_purged IS TRUE
                      AND e2.received_at < now() at time zone 'utc'
                                           - make_interval(days => s.retention_days)
                    LIMIT %(limit)s)
            """,
            {"final": FINAL_STATES, "limit": batch_size},
        )
        purged += env.cr.rowcount
        if env.cr.rowcount < batch_size:
            break
    for _batch in range(max_batches):
        env.cr.execute(
            """
            DELETE FROM mfg_integration_event e
             WHERE e.id IN (
                   SELECT e2.id FROM mfg_integration_event e2
                     JOIN mfg_integration_system s ON s.id = e2.system_id
                    WHERE e2.state IN %(final)s
                      AND e2.payload_purged IS TRUE
                      AND e2.received_at < now() at time zone 'utc'
                                           - make_interval(days => 2 * s.retention_days)
                    LIMIT %(limit)s)
            """,
            {"final": FINAL_STATES, "limit": batch_size},
        )
        deleted += env.cr.rowcount
        if env.cr.rowcount < batch_size:
            break
    env["mfg.integration.event"].invalidate_model()
    if purged or deleted:
        _logger.info("Retention: %s payloads purged, %s old event rows deleted", purged, deleted)
    return purged, deleted
