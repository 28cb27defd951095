"""The inbox's queue_jobs: one job processes a chunk of events in subject order."""

from odoo import SUPERUSER_ID

from odoo.addons.queue_job.job import Job

from ..services.event_states import SUBJECT_ORDER

# Events of one job: enough to amortise the job's own cost, small enough that a
# technical failure of the job (not of one event) retries little work.
CHUNK_SIZE = 250
CHANNEL = "root.mfg_integration"


def new_job(env, ids, description, eta=None, job_uuid=None):
    """The queue_job that processes events ``ids``: as the superuser, on the integration
    channel, at ``eta`` (UTC) or as soon as possible, under ``job_uuid`` if given."""
    events = env["mfg.integration.event"].with_user(SUPERUSER_ID).sudo().browse(ids)
    job = Job(
        events._process_chunk,
        job_uuid=job_uuid,
        eta=eta,
        channel=CHANNEL,
        description=description,
    )
    job.store()
    return job


def enqueue_in_chunks(events):
    """One job per chunk of inbound ``events``; a subject's events stay together and in order."""
    if not events:
        return
    env = events.env
    events.flush_model()
    env.cr.execute(
        f"SELECT id FROM mfg_integration_event WHERE id = ANY(%s) ORDER BY {SUBJECT_ORDER}",
        [list(events.ids)],
    )
    ordered = [row[0] for row in env.cr.fetchall()]
    for start in range(0, len(ordered), CHUNK_SIZE):
        chunk = ordered[start : start + CHUNK_SIZE]
        job = new_job(env, chunk, f"Process {len(chunk)} integration events")
        env.cr.execute(
            """
            UPDATE mfg_integration_event
               SET job_uuid = %s,
                   state = CASE WHEN state = 'received' THEN 'queued' ELSE state END
             WHERE id = ANY(%s)
            """,
            [job.uuid, chunk],
        )
    events.invalidate_recordset(["job_uuid", "state"])


def schedule_retry(events, eta):
    """A job that processes ``events`` again at ``eta`` (a datetime, UTC)."""
    if not events:
        return
    job = new_job(events.env, events.ids, f"Retry {len(events)} integration events", eta=eta)
    events.sudo().write({"job_uuid": job.uuid})
