"""8 clients post the same 500 events at the same instant against a real prefork server."""

import threading
from concurrent.futures import ThreadPoolExecutor

from .server import post, query, summary_event, wait_until

CLIENTS = 8
EVENTS = 500
BATCH = 100


def test_same_500_events_from_8_clients_give_500_rows_each_applied_once(odoo_server):
    system_id, key = odoo_server.create_system("xproc_concurrency", ["integration.sent.summary"])
    events = [summary_event(i, source="plant1/concurrency") for i in range(EVENTS)]
    batches = [events[i : i + BATCH] for i in range(0, EVENTS, BATCH)]
    barrier = threading.Barrier(CLIENTS)

    def client(number):
        # each client starts with another batch, so every batch is raced by several clients
        order = batches[number % len(batches) :] + batches[: number % len(batches)]
        barrier.wait(timeout=30)
        return [post(odoo_server.url, key, {"events": batch}) for batch in order]

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = [answer for result in pool.map(client, range(CLIENTS)) for answer in result]

    statuses = sorted({status for status, _body, _headers in answers})
    assert set(statuses) <= {200, 202}, f"unexpected statuses {statuses}: {answers[:3]}"
    accepted = sum(body["accepted"] for _status, body, _headers in answers)
    duplicates = sum(body["duplicate"] for _status, body, _headers in answers)
    assert (accepted, duplicates) == (EVENTS, EVENTS * (CLIENTS - 1))

    rows = query(
        odoo_server.database,
        "SELECT count(*), count(DISTINCT event_uid) FROM mfg_integration_event "
        "WHERE system_id = %s AND state <> 'rejected'",
        [system_id],
    )[0]
    assert rows == (EVENTS, EVENTS)

    def all_done():
        return (
            query(
                odoo_server.database,
                "SELECT count(*) FROM mfg_integration_event "
                "WHERE system_id = %s AND state = 'done'",
                [system_id],
            )[0][0]
            == EVENTS
        )

    assert wait_until(all_done, timeout=180), "not every event was processed in time"
    attempts = query(
        odoo_server.database,
        "SELECT attempts, count(*) FROM mfg_integration_event WHERE system_id = %s "
        "AND state <> 'rejected' GROUP BY attempts",
        [system_id],
    )
    assert attempts == [(1, EVENTS)], "each event was processed exactly once"
    effects = query(
        odoo_server.database,
        "SELECT count(*), count(DISTINCT reported_by_event_id) FROM mfg_integration_sent_count "
        "WHERE system_id = %s",
        [system_id],
    )[0]
    assert effects == (EVENTS, EVENTS)
