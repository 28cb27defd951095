"""kill -9 Odoo workers, then the whole server, while events are processed; restart.

Every accepted event must still end done exactly once, with its business effect applied
once, and nothing may stay queued or started forever.
"""

import os
import signal

from .server import OdooServer, post, query, summary_event, wait_until

EVENTS = 4000


def _counts(database, system_id):
    rows = query(
        database,
        "SELECT state, count(*) FROM mfg_integration_event "
        "WHERE system_id = %s AND state <> 'rejected' GROUP BY state",
        [system_id],
    )
    return dict(rows)


def test_kill_9_mid_batch_then_restart_loses_and_duplicates_nothing(odoo_server):
    database = odoo_server.database
    system_id, key = odoo_server.create_system("xproc_crash", ["integration.sent.summary"])
    # a second server on the same database, so this test can kill it without harming others
    server = OdooServer(
        database,
        os.environ["MFG_ODOO_CONF"],
        os.environ["MFG_VENV"],
        int(os.environ.get("MFG_XPROC_CRASH_PORT", "8189")),
    ).start()
    kills = []
    try:
        events = [summary_event(i, source="plant1/crash") for i in range(EVENTS)]
        for start in range(0, EVENTS, 500):
            status, body, _headers = post(server.url, key, {"events": events[start : start + 500]})
            assert status == 202, body
        for threshold in (300, 1000):
            assert wait_until(
                lambda t=threshold: _counts(database, system_id).get("done", 0) >= t, timeout=120
            )
            for pid in server.worker_pids():
                os.kill(pid, signal.SIGKILL)
                kills.append(pid)
        assert wait_until(lambda: _counts(database, system_id).get("done", 0) >= 1800, timeout=120)
        done_before_crash = _counts(database, system_id).get("done", 0)
        server.kill_hard()
        assert done_before_crash < EVENTS, "the server was killed after the work had finished"
        server.start()
        assert wait_until(
            lambda: _counts(database, system_id) == {"done": EVENTS}, timeout=240, interval=1
        ), f"after restart: {_counts(database, system_id)}"
    finally:
        server.stop()
    assert len(kills) >= 2
    effects = query(
        database,
        "SELECT count(*), count(DISTINCT day) FROM mfg_integration_sent_count WHERE system_id = %s",
        [system_id],
    )[0]
    assert effects == (EVENTS, EVENTS), "each event's business effect was applied exactly once"
    stuck_jobs = query(
        database,
        "SELECT count(*) FROM queue_job WHERE state IN ('started', 'enqueued') "
        "AND method_name = '_process_chunk' AND model_name = 'mfg.integration.event' "
        "AND date_created < now() at time zone 'utc' - interval '1 second' "
        "AND uuid IN (SELECT job_uuid FROM mfg_integration_event WHERE system_id = %s)",
        [system_id],
    )[0][0]
    assert stuck_jobs == 0
