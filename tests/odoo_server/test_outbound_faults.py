"""1,000 outbound events through a real prefork server and queue_job, to a receiver that
fails at random: every event arrives, is applied exactly once, in order per subject, and
the outbox drains with nothing pending and nothing dead."""

import time
import uuid

from .server import query, wait_until
from .webhook_receiver import FaultyReceiver

EVENTS = 1000
SUBJECTS = 50
PER_CALL = 100
CONTRACT = "xproc.widget.shipped"
SECRET = "whsec_" + "eHByb2Mtb3V0Ym91bmQtdGVzdC1zZWNyZXQ="
READ_TIMEOUT = 1.0


def admin_call(server):
    uid = server.admin_uid()
    models = server.rpc()

    def call(model, method, *args, **kwargs):
        return models.execute_kw(server.database, uid, "admin", model, method, list(args), kwargs)

    return call


def outbound_system(server, url, **values):
    """An active outbound test contract with short backoff, and a system receiving it."""
    call = admin_call(server)
    contract_ids = call("mfg.integration.contract", "search", [("code", "=", CONTRACT)])
    if not contract_ids:
        contract_ids = [
            call(
                "mfg.integration.contract",
                "create",
                {
                    "name": "Widget shipped (cross-process test)",
                    "code": CONTRACT,
                    "version": "1.0",
                    "direction": "outbound",
                    "schema": '{"type": "object", "required": ["widget", "n"], '
                    '"properties": {"widget": {"type": "string"}, "n": {"type": "integer"}}}',
                    "state": "active",
                    "max_attempts": 25,
                    "retry_base_seconds": 1,
                    "retry_max_seconds": 2,
                },
            )
        ]
    code = f"xproc_out_{uuid.uuid4().hex[:6]}"
    system_id = call(
        "mfg.integration.system",
        "create",
        {
            "name": code,
            "code": code,
            "allowed_contract_ids": [(6, 0, contract_ids)],
            "outbound_adapter": "webhook",
            "outbound_url": url,
            "signing_secret": SECRET,
            "outbound_connect_timeout": 1.0,
            "outbound_read_timeout": READ_TIMEOUT,
            "outbound_parallel": 4,
            "circuit_failure_threshold": 8,
            "circuit_cooldown_seconds": 1,
            **values,
        },
    )
    return call, system_id, code


def test_1000_events_with_random_faults_arrive_once_in_order(odoo_server):
    receiver = FaultyReceiver(SECRET, READ_TIMEOUT).start()
    try:
        call, system_id, code = outbound_system(odoo_server, receiver.url)
        started = time.monotonic()
        emitted = []
        for start in range(0, EVENTS, PER_CALL):
            batch = [
                {
                    "data": {"widget": f"W-{n}", "n": n},
                    "subject": f"SO-{n % SUBJECTS:03d}",
                    "correlation_id": f"flow-{n % SUBJECTS}",
                }
                for n in range(start, start + PER_CALL)
            ]
            emitted += call("mfg.integration.event", "api_emit", CONTRACT, batch, systems=[code])
        assert len(set(emitted)) == EVENTS

        def outbox():
            return dict(
                query(
                    odoo_server.database,
                    "SELECT state, count(*) FROM mfg_integration_event "
                    "WHERE system_id = %s AND direction = 'outbound' GROUP BY state",
                    [system_id],
                )
            )

        drained = wait_until(lambda: outbox().get("done") == EVENTS, timeout=170, interval=1)
        elapsed = time.monotonic() - started
        states = outbox()
        print(
            f"\n{EVENTS} events in {elapsed:.0f} s; receiver: {receiver.requests} requests, "
            f"answers {sorted(receiver.answers.items())}, {receiver.duplicates} duplicates "
            f"deduplicated; outbox {states}"
        )
        assert drained, f"outbox did not drain in time: {states}"
        assert states == {"done": EVENTS}, "0 pending, 0 failed, 0 dead"
        assert receiver.bad_signatures == 0, "every signature verifies"
        assert set(emitted) <= receiver.seen, "the receiver saw every event id"
        assert sorted(receiver.applied) == sorted(emitted), "each applied exactly once"
        expected = [f"{n:012d}" for n in range(1, EVENTS // SUBJECTS + 1)]
        for subject, sequences in receiver.applied_order.items():
            assert sequences == expected, f"{subject} applied out of order: {sequences}"
        assert len(receiver.applied_order) == SUBJECTS
        faults = sum(v for k, v in receiver.answers.items() if k not in ("ok", "slow"))
        assert faults > 100, "the run really went through faults"
        circuit = call("mfg.integration.system", "read", [system_id], ["circuit_state"])
        assert circuit[0]["circuit_state"] == "closed"
    finally:
        receiver.stop()


def test_a_down_receiver_opens_the_circuit_once_and_delivery_resumes(odoo_server):
    receiver = FaultyReceiver(SECRET, READ_TIMEOUT, fault_scale=0).start()
    receiver.down = True
    try:
        call, system_id, code = outbound_system(
            odoo_server,
            receiver.url,
            outbound_parallel=1,
            circuit_failure_threshold=3,
            circuit_cooldown_seconds=3,
        )
        events = [{"data": {"widget": f"W-{n}", "n": n}, "subject": f"SO-{n % 3}"}
                  for n in range(30)]  # fmt: skip
        emitted = call("mfg.integration.event", "api_emit", CONTRACT, events, systems=[code])

        def system():
            return call(
                "mfg.integration.system",
                "read",
                [system_id],
                ["circuit_state", "circuit_exception_id", "consecutive_failures"],
            )[0]

        assert wait_until(lambda: system()["circuit_state"] == "open", timeout=60)
        opened_after = receiver.requests
        assert opened_after == 3, "the round stops at the threshold"
        time.sleep(7)  # two cool-downs: one probe each, nothing more
        assert receiver.requests - opened_after <= 3, receiver.requests
        exceptions = call(
            "mfg.integration.exception",
            "search_read",
            [("system_id", "=", system_id)],
            ["reason_code", "state"],
        )
        assert [(x["reason_code"], x["state"]) for x in exceptions] == [("circuit_open", "open")]
        attempts = query(
            odoo_server.database,
            "SELECT sum(attempts) FROM mfg_integration_event WHERE system_id = %s",
            [system_id],
        )[0][0]
        assert attempts == receiver.requests, "no attempts burnt while the circuit is open"

        receiver.down = False
        assert wait_until(
            lambda: query(
                odoo_server.database,
                "SELECT count(*) FROM mfg_integration_event WHERE system_id = %s "
                "AND state = 'done'",
                [system_id],
            )[0][0]
            == len(emitted),
            timeout=90,
        )
        assert system()["circuit_state"] == "closed"
        state = call("mfg.integration.exception", "read", [exceptions[0]["id"]], ["state"])
        assert state[0]["state"] == "resolved"
        assert sorted(receiver.applied) == sorted(emitted)
        for sequences in receiver.applied_order.values():
            assert sequences == sorted(sequences)
    finally:
        receiver.stop()
