"""Error classes: set on every exception, used to retry the passing failures by themselves."""

import uuid
from unittest.mock import patch

from odoo.tests.common import TransactionCase

from ..services import adapters
from ..services.delivery_policy import Outcome
from ..services.error_classes import REASON_CLASSES, classify, register_reason_classes
from .common import IntegrationCase, JobQueue
from .test_outbound import OutboundCase


class TestClassify(TransactionCase):
    def test_classes_from_reason_status_and_technical_text(self):
        cases = [
            ({"reason_code": "mapping_missing", "category": "business"}, "missing_reference"),
            ({"reason_code": "sor_conflict", "category": "business"}, "business_rule"),
            ({"reason_code": "order_closed", "category": "business"}, "business_rule"),
            ({"reason_code": "value_out_of_range", "category": "business"}, "value"),
            ({"category": "technical", "details": "ConnectionError: refused"}, "connection"),
            ({"category": "technical", "details": "requests ReadTimeout"}, "connection"),
            ({"category": "technical", "details": "psycopg2 SerializationFailure"}, "intermittent"),
            ({"category": "technical", "details": "KeyError: 'qty'"}, "program"),
            ({"category": "technical", "details": "JSONDecodeError: Expecting value"}, "parse"),
            ({"category": "business", "http_status": 429}, "rate_limited"),
            ({"category": "business", "http_status": 413}, "too_large"),
            ({"category": "business", "http_status": 422}, "value"),
            ({"category": "technical", "http_status": 503}, "intermittent"),
            ({"category": "business", "http_status": 422, "explicit": "duplicate"}, "duplicate"),
        ]
        for kwargs, expected in cases:
            with self.subTest(**kwargs):
                self.assertEqual(classify(**kwargs), expected)

    def test_an_addon_names_the_class_of_its_reason_codes(self):
        # unique per run: the table is process-wide
        unknown, typo = (f"test_{uuid.uuid4().hex[:8]}_{word}" for word in ("unknown", "typo"))
        self.assertEqual(classify(unknown, "business"), "business_rule")
        register_reason_classes({unknown: "missing_reference"})
        self.assertEqual(classify(unknown, "business"), "missing_reference")
        # the class the raiser names and the HTTP status of a delivery still come first
        self.assertEqual(classify(unknown, "business", explicit="intermittent"), "intermittent")
        self.assertEqual(classify(unknown, "business", http_status=429), "rate_limited")
        register_reason_classes({unknown: "missing_reference"})  # again, the same meaning
        with self.assertRaisesRegex(ValueError, "'wrong' is not an error class"):
            register_reason_classes({typo: "value", f"{typo}_2": "wrong"})
        self.assertEqual(classify(typo, "business"), "business_rule", "nothing half-registered")
        with self.assertRaisesRegex(ValueError, "already of class 'missing_reference'"):
            register_reason_classes({"order_unknown": "value"})
        self.assertEqual(classify("order_unknown", "business"), "missing_reference")
        self.assertNotIn(unknown, REASON_CLASSES, "the framework's own table stays as shipped")
        self.assertEqual(REASON_CLASSES["mapping_missing"], "missing_reference")


class TestInboundClasses(IntegrationCase):
    def test_every_exception_has_a_class(self):
        business, technical = self._receive(
            self.envelope(widget="X", behaviour="business", subject="S1"),
            self.envelope(widget="Y", behaviour="technical", subject="S2"),
        )
        self.assertEqual(business.exception_id.error_class, "business_rule")
        technical._process_chunk()
        technical._process_chunk()
        self.assertEqual(technical.state, "dead")
        self.assertEqual(technical.exception_id.error_class, "connection")

    def test_an_intermittent_business_answer_is_retried_before_a_person_sees_it(self):
        event = self._receive(self.envelope(widget="O-1", behaviour="locked"))
        self.assertEqual((event.state, event.attempts), ("queued", 1))
        self.assertFalse(event.exception_id, "no exception while attempts remain")
        self.assertEqual(event.error_code, "order_locked")
        queue = JobQueue(self.env)
        event._process_chunk()
        self.assertEqual((event.state, event.attempts), ("queued", 2))
        self.assertTrue(queue.enqueued().eta, "the retry waits for the contract's backoff")
        event._process_chunk()
        self.assertEqual((event.state, event.attempts), ("failed", 3))
        exception = event.exception_id
        self.assertEqual((exception.error_class, exception.category), ("intermittent", "business"))
        self.assertIn("locked by another user", exception.name)

    def test_a_duplicate_never_opens_an_exception(self):
        envelope = self.envelope(widget="D-1")
        first = self._receive(envelope)
        again = self._receive(envelope)
        self.assertEqual(first, again)
        self.assertFalse(
            self.env["mfg.integration.exception"].search([("error_class", "=", "duplicate")])
        )


class TestOutboundClasses(OutboundCase):
    def test_a_refusal_is_classed_by_the_answer(self):
        event = self.emit("W-1")
        self.receiver.script = [(422, {}, 0)]
        self.dispatch()
        self.assertEqual((event.state, event.exception_id.error_class), ("failed", "value"))

    def test_an_adapter_s_intermittent_refusal_is_retried_first(self):
        event = self.emit("W-2")
        calls = []

        def deliver(adapter, batch):
            calls.append(len(batch))
            return [
                Outcome("business", 423, "order locked by another user", error_class="intermittent")
                for _message in batch
            ]

        with patch.object(adapters.registry.get("webhook"), "deliver", deliver):
            self.dispatch()
            self.assertEqual((event.state, event.attempts), ("queued", 1))
            self.assertFalse(event.exception_id)
            for _attempt in range(2):
                self.make_due(event)
                self.dispatch()
        self.assertEqual(len(calls), 3)
        self.assertEqual((event.state, event.exception_id.error_class), ("failed", "intermittent"))
