"""POST /mfg/v1/events speaks the CloudEvents HTTP binding: what the official SDK produces.

Structured mode (application/cloudevents+json, one event) and batched mode
(application/cloudevents-batch+json, a JSON array) answer as our own JSON body does.
"""

import json
import uuid

from odoo.tests import HttpCase, tagged

from .common import RUN_STARTED, create_widget_contract, utc_stamp

try:
    from cloudevents.core.bindings.http import to_structured
    from cloudevents.core.formats.json import JSONFormat
    from cloudevents.core.v1.event import CloudEvent
    from cloudevents.v1.conversion import to_structured as legacy_to_structured
    from cloudevents.v1.http import CloudEvent as LegacyCloudEvent
except ImportError:  # the SDK is a test tool (setup/requirements-project.txt)
    CloudEvent = None

STRUCTURED = "application/cloudevents+json"
BATCHED = "application/cloudevents-batch+json"


@tagged("post_install", "-at_install")
class TestCloudEventsBinding(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contract = create_widget_contract(cls.env)
        cls.system = cls.env["mfg.integration.system"].create(
            {
                "name": "CloudEvents producer",
                "code": "ce_producer",
                "allowed_contract_ids": [(6, 0, cls.contract.ids)],
                "max_batch_events": 4,
            }
        )
        cls.key = cls.system._generate_api_key()
        cls.outsider = cls.env["mfg.integration.system"].create(
            {"name": "Outsider", "code": "ce_outsider"}
        )
        cls.outsider_key = cls.outsider._generate_api_key()

    def setUp(self):
        super().setUp()
        if CloudEvent is None:
            self.skipTest("the cloudevents SDK is not installed (setup/requirements-project.txt)")

    @staticmethod
    def _attributes(**extra):
        return dict(
            {
                "id": str(uuid.uuid4()),
                "source": "plant1/ce",
                "type": "test.widget.made",
                "dataschema": "urn:mfg:contract:test.widget.made:1.0",
                "subject": "WO-CE",
                "time": RUN_STARTED,
            },
            **extra,
        )

    def _event(self, qty=1, **extra):
        return CloudEvent(attributes=self._attributes(**extra), data={"widget": "W", "qty": qty})

    def _post(self, body, content_type, key=None, headers=None):
        headers = dict(headers or {}, **{"Content-Type": content_type})
        headers["Authorization"] = f"Bearer {key or self.key}"
        return self.url_open("/mfg/v1/events", data=body, headers=headers)

    def _post_message(self, message, **kwargs):
        return self._post(message.body, message.headers["content-type"], **kwargs)

    @staticmethod
    def _batch_body(events):
        # The SDK writes one event at a time; the JSON batch format is an array of those.
        return b"[" + b",".join(JSONFormat().write(event) for event in events) + b"]"

    def _stored(self, event_id):
        return self.env["mfg.integration.event"].search(
            [("system_id", "=", self.system.id), ("event_uid", "=", event_id)]
        )

    def test_structured_event_of_the_sdk_is_accepted_then_duplicate(self):
        event = self._event(qty=3)
        message = to_structured(event, JSONFormat())
        self.assertEqual(message.headers["content-type"], STRUCTURED)
        response = self._post_message(message)
        self.assertEqual(response.status_code, 202, response.text)
        answer = response.json()
        self.assertEqual((answer["status"], answer["id"]), ("accepted", event.get_id()))
        self.assertEqual(answer["accepted"], 1)
        stored = self._stored(event.get_id())
        self.assertNotEqual(stored.state, "rejected")
        self.assertEqual(stored.payload, {"widget": "W", "qty": 3})
        # the same event again, with the charset parameter a producer may add
        again = self._post(message.body, f"{STRUCTURED}; charset=utf-8")
        self.assertEqual(again.status_code, 200, again.text)
        self.assertEqual(again.json()["status"], "duplicate")
        self.assertEqual(len(self._stored(event.get_id())), 1)

    def test_structured_event_of_the_sdks_legacy_api_is_accepted(self):
        # the legacy API takes the time as a string
        event = LegacyCloudEvent(self._attributes(time=utc_stamp()), {"widget": "W", "qty": 2})
        headers, body = legacy_to_structured(event)
        self.assertEqual(headers["content-type"], STRUCTURED)
        response = self._post(body, headers["content-type"])
        self.assertEqual(response.status_code, 202, response.text)
        self.assertEqual(self._stored(event["id"]).payload, {"widget": "W", "qty": 2})

    def test_structured_event_answers_like_a_single_json_event(self):
        invalid = self._post_message(to_structured(self._event(qty=0), JSONFormat()))
        self.assertEqual(invalid.status_code, 422, invalid.text)
        self.assertEqual(invalid.json()["error"]["pointer"], "/data/qty")
        forbidden = self._post_message(
            to_structured(self._event(), JSONFormat()), key=self.outsider_key
        )
        self.assertEqual(forbidden.status_code, 403, forbidden.text)
        self.assertEqual(forbidden.json()["error"]["code"], "contract_not_allowed")
        # one event per request: an object holding "events" is an (invalid) event, not a batch
        wrapped = json.dumps({"events": [json.loads(JSONFormat().write(self._event()))]})
        response = self._post(wrapped, STRUCTURED)
        self.assertEqual(response.status_code, 422, response.text)
        self.assertEqual((response.json()["rejected"], response.json()["index"]), (1, 0))
        array = self._post(self._batch_body([self._event()]), STRUCTURED)
        self.assertEqual(array.status_code, 400)
        self.assertEqual(array.json()["error"]["code"], "malformed_body")
        self.assertIn("application/cloudevents-batch+json", array.json()["error"]["message"])

    def test_batch_of_sdk_events_answers_per_event(self):
        first, invalid, last = self._event(), self._event(qty="many"), self._event()
        response = self._post(self._batch_body([first, invalid, last]), BATCHED)
        self.assertEqual(response.status_code, 207, response.text)
        answer = response.json()
        self.assertEqual((answer["accepted"], answer["rejected"], answer["duplicate"]), (2, 1, 0))
        self.assertNotIn("status", answer, "a batch's answer is not merged with its first result")
        self.assertEqual(
            [(result["index"], result["id"], result["status"]) for result in answer["results"]],
            [
                (0, first.get_id(), "accepted"),
                (1, invalid.get_id(), "rejected"),
                (2, last.get_id(), "accepted"),
            ],
        )
        self.assertEqual(answer["results"][1]["error"]["pointer"], "/data/qty")
        again = self._post(self._batch_body([first, last]), f"{BATCHED};charset=UTF-8")
        self.assertEqual(again.status_code, 200, again.text)
        self.assertEqual(again.json()["duplicate"], 2)
        # in a batch, a forbidden contract is a per-event refusal, as with {"events": [...]}
        outsider = self._post(self._batch_body([self._event()]), BATCHED, key=self.outsider_key)
        self.assertEqual(outsider.status_code, 422, outsider.text)
        self.assertEqual(outsider.json()["results"][0]["error"]["code"], "contract_not_allowed")

    def test_malformed_batches(self):
        not_an_array = self._post(JSONFormat().write(self._event()), BATCHED)
        self.assertEqual(not_an_array.status_code, 400)
        self.assertEqual(not_an_array.json()["error"]["code"], "malformed_batch")
        empty = self._post(b"[]", BATCHED)
        self.assertEqual(empty.status_code, 400)
        self.assertEqual(empty.json()["error"]["code"], "empty_batch")
        too_many = self._post(self._batch_body([self._event() for _ in range(5)]), BATCHED)
        self.assertEqual(too_many.status_code, 413)
        self.assertEqual(too_many.json()["error"]["code"], "batch_too_large")
        # our own JSON body has no array form: only the batched media type does
        plain_array = self._post(self._batch_body([self._event()]), "application/json")
        self.assertEqual(plain_array.status_code, 400)
        self.assertEqual(plain_array.json()["error"]["code"], "malformed_body")

    def test_other_media_types_and_binary_mode_are_refused_with_415(self):
        body = JSONFormat().write(self._event())
        for content_type in (
            "text/plain",
            "application/xml",
            f"{STRUCTURED}; charset=iso-8859-1",
            "application/cloudevents+xml",
        ):
            response = self._post(body, content_type)
            self.assertEqual(response.status_code, 415, content_type)
            error = response.json()["error"]
            self.assertEqual(error["code"], "unsupported_media_type")
            self.assertIn(STRUCTURED, error["message"])
            self.assertIn(BATCHED, error["message"])
        # binary mode: attributes in ce-* headers, the data alone in the body
        binary = self._post(
            json.dumps({"widget": "W", "qty": 1}),
            "application/json",
            headers={
                "ce-specversion": "1.0",
                "ce-id": str(uuid.uuid4()),
                "ce-source": "plant1/ce",
                "ce-type": "test.widget.made",
            },
        )
        self.assertEqual(binary.status_code, 415)
        self.assertIn("binary content mode", binary.json()["error"]["message"])
        refused = self.env["mfg.integration.event"].search(
            [
                ("system_id", "=", self.system.id),
                ("state", "=", "rejected"),
                ("error_code", "=", "unsupported_media_type"),
            ]
        )
        self.assertEqual(len(refused), 5, "every refused request is kept for a person to see")
