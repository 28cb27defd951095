"""Retention: payloads of finished events are purged, and their rows deleted much later.

Rows are the inbox's idempotency keys: they stay after their payload is purged and are
deleted only after twice the system's retention, so a late resend is still answered
'duplicate'. Outbound rows follow the same rule. Bounded batches keep locks and WAL short.
"""

import logging

from ..services.event_states import FINAL_STATES

_logger = logging.getLogger(__name__)


# Finished events whose payload is still there, by system and time: the purge reads the
# oldest of each system from here instead of scanning the table from its start, where the
# rows purged before (kept as keys for another retention period) lie in front of the ones
# left to purge. Appending to it costs ingest one index entry at the right edge.
TO_PURGE_INDEX = """
    CREATE INDEX IF NOT EXISTS mfg_integration_event_to_purge
        ON mfg_integration_event (system_id, received_at)
     WHERE payload_purged IS NOT TRUE AND state IN ('done', 'discarded', 'rejected')
"""

# The oldest finished events of each system past its retention that still hold a payload
PURGE_QUERY = """
    UPDATE mfg_integration_event e
       SET payload = NULL, envelope_extra = NULL, raw_body = NULL, payload_purged = TRUE
     WHERE e.id IN (
           SELECT old.id
             FROM mfg_integration_system s
            CROSS JOIN LATERAL (
                  SELECT e2.id FROM mfg_integration_event e2
                   WHERE e2.system_id = s.id
                     AND e2.payload_purged IS NOT TRUE AND e2.state IN %(final)s
                     AND e2.received_at < now() at time zone 'utc'
                                          - make_interval(days => s.retention_days)
                   ORDER BY e2.received_at
                   LIMIT %(limit)s) old
            LIMIT %(limit)s)
"""


def purge_payloads(env, batch_size=5000, max_batches=20):
    """Purge payloads past their system's retention, delete rows past twice of it;
    returns (purged, deleted).

    Both statements read only what they change: the purge walks each system's oldest
    entries of the partial index TO_PURGE_INDEX (in the order they were received), the
    delete the block ranges older than the shortest double retention (BRIN index), so that
    neither scans the table when there is nothing to do, nor the rows purged before."""
    purged = deleted = 0
    env.flush_all()
    for _batch in range(max_batches):
        env.cr.execute(
            PURGE_QUERY,
            {"final": FINAL_STATES, "limit": batch_size},
        )
        purged += env.cr.rowcount
        if env.cr.rowcount < batch_size:
            break
    env.cr.execute(
        """
        SELECT now() at time zone 'utc' - make_interval(days => 2 * MIN(retention_days))
          FROM mfg_integration_system
        """
    )
    [(loosest,)] = env.cr.fetchall()
    for _batch in range(max_batches if loosest else 0):
        env.cr.execute(
            """
            DELETE FROM mfg_integration_event e
             WHERE e.id IN (
                   SELECT e2.id FROM mfg_integration_event e2
                     JOIN mfg_integration_system s ON s.id = e2.system_id
                    WHERE e2.received_at < %(loosest)s
                      AND e2.state IN %(final)s
                      AND e2.payload_purged IS TRUE
                      AND e2.received_at < now() at time zone 'utc'
                                           - make_interval(days => 2 * s.retention_days)
                    LIMIT %(limit)s)
            """,
            {"final": FINAL_STATES, "limit": batch_size, "loosest": loosest},
        )
        deleted += env.cr.rowcount
        if env.cr.rowcount < batch_size:
            break
    env["mfg.integration.event"].invalidate_model()
    if purged or deleted:
        _logger.info("Retention: %s payloads purged, %s old event rows deleted", purged, deleted)
    return purged, deleted
