"""Deliver a dispatch round's events in order per subject, on parallel lanes.

Each subject belongs to one lane (by a stable hash), so its events leave one after the
other; lanes run side by side on their own connections. After a failure, the later events
of that subject are not attempted in this round (they wait for the failed one), and a
run of technical failures across lanes stops the whole round: a down system is not
hammered with every claimed event before its circuit breaker opens.
"""

import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor


def lane_of(message, lanes):
    key = message.subject if message.subject is not None else str(message.event_id)
    return zlib.crc32(key.encode()) % lanes


def deliver_in_order(
    adapter,
    messages,
    lanes=1,
    batch_size=1,
    deadline=None,
    stop_after_failures=None,
    clock=time.monotonic,
):
    """{event_id: Outcome} of the ``messages`` attempted (absent: not attempted).

    ``messages`` are in delivery order; consecutive batchable ones of a lane are sent
    ``batch_size`` per call. ``deadline`` (a ``clock()`` value) ends the round between
    calls; ``stop_after_failures`` consecutive technical failures (across lanes) too.
    """
    lanes = max(1, int(lanes))
    by_lane = {}
    for message in messages:
        by_lane.setdefault(lane_of(message, lanes), []).append(message)
    state = {"failures": 0, "stop": False}
    lock = threading.Lock()

    def stopped():
        return state["stop"] or (deadline is not None and clock() >= deadline)

    def note(outcomes):
        with lock:
            for outcome in outcomes:
                if outcome.status == "technical":
                    state["failures"] += 1
                elif outcome.reached:
                    state["failures"] = 0
            if stop_after_failures and state["failures"] >= stop_after_failures:
                state["stop"] = True

    def run_lane(queue):
        results = {}
        held = set()
        position = 0
        while position < len(queue) and not stopped():
            batch = []
            while position < len(queue) and len(batch) < max(1, batch_size):
                message = queue[position]
                if message.subject is not None and message.subject in held:
                    position += 1
                    continue
                if batch and not (message.batchable and batch[0].batchable):
                    break
                batch.append(message)
                position += 1
                if not message.batchable:
                    break
            if not batch:
                continue
            outcomes = adapter.deliver(batch)
            if len(outcomes) != len(batch):
                raise ValueError(
                    f"{type(adapter).__name__}.deliver returned {len(outcomes)} outcomes "
                    f"for {len(batch)} events"
                )
            note(outcomes)
            for message, outcome in zip(batch, outcomes, strict=True):
                results[message.event_id] = outcome
                if outcome.status != "delivered" and message.subject is not None:
                    held.add(message.subject)
        return results

    queues = list(by_lane.values())
    if len(queues) <= 1:
        return run_lane(queues[0]) if queues else {}
    results = {}
    with ThreadPoolExecutor(max_workers=len(queues), thread_name_prefix="mfg-outbound") as pool:
        for lane_results in pool.map(run_lane, queues):
            results.update(lane_results)
    return results
