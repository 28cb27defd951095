"""Bulk retry benchmark: a planner retries 1,000 grouped exceptions at once.

    .venv/bin/python tests/bench/bench_bulk_retry.py --source-db mfg_demo [--exceptions 1000]

Copies ``--source-db`` (addons installed, no open sessions) to a scratch database, opens
the exceptions as processing does (1,000 events of one contract failing the same way, so
they share one problem), then times the request-side work of "Retry" on all of them,
commit included, as a planner's click does it:

* ours: one write, one batch of chatter lines, the events queued in jobs of 250;
* the naive way: per exception a chatter post, a tracked write and a retry of its event
  (one job per event).

The jobs are counted, not run: the processing itself is the job runner's, outside the
request. The scratch database is dropped at the end.
"""

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_common import REPO, drop, odoo_env, scratch_copy


def open_exceptions(env, system, contract, count):
    """``count`` failed events with their (grouped) exceptions, as processing leaves them."""
    Event = env["mfg.integration.event"].sudo()
    run = uuid.uuid4().hex[:8]
    events = Event.create(
        [
            {
                "system_id": system.id,
                "contract_id": contract.id,
                "event_type": contract.code,
                "contract_version": contract.version,
                "event_uid": f"{run}-{i}",
                "source": "bench/retry",
                "subject": f"{run}-WO-{i}",
                "payload": {"n": i},
                "state": "failed",
                "attempts": 1,
            }
            for i in range(count)
        ]
    )
    Exception_ = env["mfg.integration.exception"]
    for event in events:
        Exception_._open_for_event(
            event,
            category="business",
            reason_code="mapping_missing",
            message=f"Work center code 'LINE-7' from {system.name} has no mapping",
            key_fields={"kind": "workcenter", "external_code": "LINE-7"},
        )
    exceptions = Exception_.search([("event_id", "in", events.ids)])
    env.cr.commit()
    return exceptions


def jobs_since(env, start_id):
    env.cr.execute("SELECT COUNT(*) FROM queue_job WHERE id > %s", [start_id])
    return env.cr.fetchone()[0]


def max_job_id(env):
    env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM queue_job")
    return env.cr.fetchone()[0]


def naive_retry(exceptions):
    for exception in exceptions:
        exception.message_post(body=f"Retried by {exception.env.user.name}.")
        exception.write({"state": "resolved", "resolution": "Retried"})
        exception.event_id.action_retry()


def timed(env, function):
    started = time.perf_counter()
    function()
    env.flush_all()
    env.cr.commit()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source-db", required=True)
    parser.add_argument("--db", default="mfg_bench_retry")
    parser.add_argument("--conf", default=str(REPO / "run" / "odoo-test.conf"))
    parser.add_argument("--exceptions", type=int, default=1000)
    args = parser.parse_args()

    scratch_copy(args.source_db, args.db)
    try:
        with odoo_env(args.db, args.conf) as env:
            contract = env["mfg.integration.contract"].search(
                [("direction", "=", "inbound"), ("state", "=", "active")], limit=1
            )
            system = env["mfg.integration.system"].create(
                {"name": "Bench MES", "code": "bench_retry"}
            )
            admin = env.ref("base.user_admin")
            ours = open_exceptions(env, system, contract, args.exceptions).with_user(admin)
            naive = open_exceptions(env, system, contract, args.exceptions).with_user(admin)
            problems = len(ours.problem_id)

            start = max_job_id(env)
            ours_s = timed(env, ours.action_retry)
            ours_jobs = jobs_since(env, start)
            resolved = env["mfg.integration.exception"].search_count(
                [("id", "in", ours.ids), ("state", "=", "resolved")]
            )

            start = max_job_id(env)
            naive_s = timed(env, lambda: naive_retry(naive))
            naive_jobs = jobs_since(env, start)
    finally:
        drop(args.db)

    count = args.exceptions
    print(f"bulk retry benchmark: {count} exceptions in {problems} group(s), request side")
    print(f"  ours: set-based        {ours_s:7.2f} s  {ours_jobs:5d} jobs  ({resolved} resolved)")
    print(f"  naive: per exception   {naive_s:7.2f} s  {naive_jobs:5d} jobs")
    print(f"  naive / ours           {naive_s / ours_s:7.1f} x")


if __name__ == "__main__":
    main()
