"""Outbound delivery decisions and the webhook adapter: no database needed."""

import random
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from odoo.tests.common import BaseCase

from ..adapters.webhook import WebhookAdapter
from ..services.adapters import AdapterRegistry, Message, Settings
from ..services.delivery_policy import (
    Breaker,
    Outcome,
    breaker_after_round,
    breaker_gate,
    classify_response,
    parse_retry_after,
    retry_delay,
)
from ..services.outbound_delivery import deliver_in_order
from .receiver import RealTimeouts, Receiver

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def message(number, subject="S1", batchable=False):
    envelope = {
        "specversion": "1.0",
        "id": f"ev-{number}",
        "source": "odoo/test",
        "type": "test.widget.shipped",
        "subject": subject,
        "data": {"n": number},
    }
    return Message(number, envelope, subject, f"corr-{subject}", batchable)


class ScriptedAdapter:
    """Answers per CloudEvents id from a script; records each call's ids."""

    def __init__(self, failing=(), business=()):
        self.failing = set(failing)
        self.business = set(business)
        self.calls = []
        self.lock = threading.Lock()

    def deliver(self, batch):
        with self.lock:
            self.calls.append([m.event_id for m in batch])
        if any(m.event_id in self.failing for m in batch):
            return [Outcome("technical", 503, "HTTP 503")] * len(batch)
        if any(m.event_id in self.business for m in batch):
            return [Outcome("business", 422, "HTTP 422")] * len(batch)
        return [Outcome("delivered", 200)] * len(batch)


class TestClassification(BaseCase):
    def test_success_business_and_technical_answers(self):
        self.assertEqual(classify_response(204).status, "delivered")
        for status in (400, 401, 403, 404, 410, 413, 422):
            outcome = classify_response(status, {}, '{"error": "unknown order WH/MO/1"}')
            self.assertEqual(outcome.status, "business", status)
            self.assertIn("unknown order WH/MO/1", outcome.summary)
        for status in (408, 409, 425, 429, 500, 502, 503, 504):
            self.assertEqual(classify_response(status).status, "technical", status)
        redirect = classify_response(301, {"Location": "https://new.example/hook"})
        self.assertEqual(redirect.status, "business")
        self.assertIn("https://new.example/hook", redirect.summary)

    def test_retry_after_seconds_and_http_date(self):
        self.assertEqual(parse_retry_after("7"), 7.0)
        later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
        self.assertAlmostEqual(parse_retry_after(later, now=NOW), 90.0)
        past = format_datetime(NOW - timedelta(seconds=90), usegmt=True)
        self.assertEqual(parse_retry_after(past, now=NOW), 0.0)
        self.assertIsNone(parse_retry_after("soon"))
        self.assertIsNone(parse_retry_after(None))
        self.assertEqual(parse_retry_after("999999999"), 86400)
        outcome = classify_response(429, {"retry-after": "12"})
        self.assertEqual((outcome.status, outcome.retry_after), ("technical", 12.0))

    def test_retry_delay_honours_retry_after_else_jitter(self):
        self.assertEqual(retry_delay(1, 10, 100, retry_after=42), 42.0)
        self.assertEqual(retry_delay(1, 10, 100, retry_after=0), 1.0)
        rng = random.Random(3)
        delays = [retry_delay(4, 10, 60, rng=rng) for _i in range(200)]
        self.assertTrue(all(1.0 <= d <= 60 for d in delays))
        self.assertGreater(max(delays) - min(delays), 20, "full jitter spreads the retries")


class TestCircuitBreaker(BaseCase):
    def test_opens_after_threshold_and_waits_for_cooldown(self):
        failure = Outcome("technical", 503)
        breaker, transition = breaker_after_round(Breaker(), [failure] * 2, 3, NOW)
        self.assertEqual(
            (breaker.state, breaker.consecutive_failures, transition), ("closed", 2, None)
        )
        breaker, transition = breaker_after_round(breaker, [failure], 3, NOW)
        self.assertEqual((breaker.state, transition), ("open", "opened"))
        gate, until = breaker_gate(breaker, 60, NOW + timedelta(seconds=10))
        self.assertEqual((gate, until), ("wait", NOW + timedelta(seconds=60)))
        self.assertEqual(breaker_gate(breaker, 60, NOW + timedelta(seconds=60))[0], "probe")

    def test_probe_closes_on_success_reopens_on_failure(self):
        opened = Breaker("open", NOW, 5)
        later = NOW + timedelta(minutes=5)
        breaker, transition = breaker_after_round(
            opened, [Outcome("technical", None)], 5, later, probing=True
        )
        self.assertEqual(
            (breaker.state, breaker.opened_at, transition), ("open", later, "reopened")
        )
        breaker, transition = breaker_after_round(
            opened, [Outcome("delivered", 200)], 5, later, probing=True
        )
        self.assertEqual((breaker, transition), (Breaker("closed", None, 0), "closed"))

    def test_a_business_refusal_proves_the_receiver_is_up(self):
        breaker, _t = breaker_after_round(
            Breaker("closed", None, 4), [Outcome("business", 422)], 5, NOW
        )
        self.assertEqual(breaker.consecutive_failures, 0)
        unchanged, transition = breaker_after_round(Breaker("closed", None, 4), [], 5, NOW)
        self.assertEqual((unchanged.consecutive_failures, transition), (4, None))


class TestDeliverInOrder(BaseCase):
    def test_a_failed_event_holds_the_rest_of_its_subject_only(self):
        messages = [message(1, "A"), message(2, "A"), message(3, "B"), message(4, "A"),
                    message(5, "B")]  # fmt: skip
        adapter = ScriptedAdapter(failing={2})
        outcomes = deliver_in_order(adapter, messages, lanes=3)
        statuses = {event_id: outcome.status for event_id, outcome in outcomes.items()}
        self.assertEqual(statuses, {1: "delivered", 2: "technical", 3: "delivered", 5: "delivered"})
        attempted = [event_id for call in adapter.calls for event_id in call]
        self.assertNotIn(4, attempted, "a later event never overtakes a failed one")
        by_subject = {}
        for event_id in attempted:
            by_subject.setdefault(messages[event_id - 1].subject, []).append(event_id)
        self.assertEqual(by_subject, {"A": [1, 2], "B": [3, 5]})

    def test_batchable_events_share_requests_up_to_the_batch_size(self):
        messages = [message(n, f"S{n % 3}", batchable=True) for n in range(1, 8)]
        adapter = ScriptedAdapter()
        outcomes = deliver_in_order(adapter, messages, lanes=1, batch_size=3)
        self.assertEqual(len(outcomes), 7)
        self.assertEqual([len(call) for call in adapter.calls], [3, 3, 1])
        plain = ScriptedAdapter()
        deliver_in_order(plain, [message(n) for n in range(1, 4)], batch_size=3)
        self.assertEqual(plain.calls, [[1], [2], [3]], "not batchable: one request per event")

    def test_a_run_of_failures_stops_the_round(self):
        messages = [message(n, f"S{n}") for n in range(1, 21)]
        adapter = ScriptedAdapter(failing=set(range(1, 21)))
        outcomes = deliver_in_order(adapter, messages, lanes=1, stop_after_failures=3)
        self.assertEqual(len(outcomes), 3, "a down system is not tried with every event")

    def test_deadline_ends_the_round_between_calls(self):
        ticks = iter(range(100))
        outcomes = deliver_in_order(
            ScriptedAdapter(), [message(n, f"S{n}") for n in range(1, 10)],
            deadline=4, clock=lambda: next(ticks),
        )  # fmt: skip
        self.assertEqual(len(outcomes), 4)


class TestWebhookAdapter(RealTimeouts, BaseCase):
    def settings(self, url, secret, **values):
        return Settings(**dict({"system_code": "test", "url": url, "secret": secret,
                                "connect_timeout": 2, "read_timeout": 1}, **values))  # fmt: skip

    def test_signed_cloudevent_with_stable_webhook_id(self):
        with Receiver() as receiver:
            adapter = WebhookAdapter(self.settings(receiver.url, receiver.secret))
            first = adapter.deliver([message(1)])
            again = adapter.deliver([message(1)])
            batch = adapter.deliver([message(2, batchable=True), message(3, batchable=True)])
        self.assertEqual([o.status for o in first + again + batch], ["delivered"] * 4)
        (h1, body1, p1), (h2, _b, p2), (h3, body3, p3) = receiver.requests
        self.assertEqual((p1, p2, p3), (None, None, None), "every signature verifies")
        self.assertEqual(h1["webhook-id"], "ev-1")
        self.assertEqual(h2["webhook-id"], "ev-1", "a retry keeps the webhook-id")
        self.assertTrue(h1["webhook-signature"].startswith("v1,"))
        self.assertEqual(h1["content-type"], "application/cloudevents+json; charset=utf-8")
        self.assertEqual(h1["x-correlation-id"], "corr-S1")
        self.assertEqual(body1["id"], "ev-1")
        self.assertEqual(h3["content-type"], "application/cloudevents-batch+json; charset=utf-8")
        self.assertEqual([event["id"] for event in body3], ["ev-2", "ev-3"])

    def test_failures_are_classified(self):
        with Receiver() as receiver:
            receiver.script = [(500, {}, 0), (429, {"Retry-After": "3"}, 0), (422, {}, 0),
                               (200, {}, 1.5)]  # fmt: skip
            adapter = WebhookAdapter(self.settings(receiver.url, receiver.secret))
            answers = [adapter.deliver([message(n)])[0] for n in range(1, 5)]
        self.assertEqual([a.status for a in answers], ["technical", "technical", "business",
                                                        "technical"])  # fmt: skip
        self.assertEqual(answers[1].retry_after, 3.0)
        self.assertIn("Timeout", answers[3].summary, "answer slower than the read timeout")

    def test_refused_connection_is_technical_and_secret_never_in_summary(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        secret = "whsec_c2VjcmV0LW5ldmVyLWxvZ2dlZA=="
        outcome = WebhookAdapter(self.settings(f"http://127.0.0.1:{port}/x", secret)).deliver(
            [message(1)]
        )[0]
        self.assertEqual(outcome.status, "technical")
        self.assertIn("Connection failed", outcome.summary)
        self.assertNotIn(secret, outcome.summary)

    def test_registry_reuses_adapters_per_settings(self):
        registry = AdapterRegistry()
        registry.adapter(WebhookAdapter)
        settings = self.settings("http://127.0.0.1:9/x", "s")
        self.assertIs(
            registry.instance("webhook", settings), registry.instance("webhook", settings)
        )
        other = self.settings("http://127.0.0.1:9/x", "t")
        self.assertIsNot(
            registry.instance("webhook", other), registry.instance("webhook", settings)
        )
        with self.assertRaises(LookupError):
            registry.get("carrier_pigeon")

    def test_registry_uses_only_adapters_of_installed_modules(self):
        registry = AdapterRegistry()
        registry.adapter(WebhookAdapter)
        settings = self.settings("http://127.0.0.1:9/x", "s")
        self.assertEqual(registry.keys({"mfg_integration_base"}), ["webhook"])
        self.assertEqual(registry.keys({"mfg_integration_sap"}), [])
        self.assertIsInstance(
            registry.instance("webhook", settings, {"mfg_integration_base"}), WebhookAdapter
        )
        with self.assertRaisesRegex(LookupError, "no installed module registers it"):
            registry.instance("webhook", settings, {"mfg_integration_sap"})
