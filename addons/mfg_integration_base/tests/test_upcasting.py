"""Upcasting: a sender still on version 1 keeps working after version 2 replaced it."""

import json

from ..services.handler_registry import registry
from ..services.upcasters import upcasters
from .common import WIDGET_SCHEMA, IntegrationCase, create_widget_contract

APPLIED_V2 = []

WIDGET_V2_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["item", "quantity"],
    "additionalProperties": False,
    "properties": {
        "item": {"type": "string", "minLength": 1},
        "quantity": {
            "type": "object",
            "required": ["value", "uom"],
            "properties": {"value": {"type": "number"}, "uom": {"type": "string"}},
        },
        "behaviour": WIDGET_SCHEMA["properties"]["behaviour"],
    },
}


@upcasters.upcaster("test.widget.made", from_major=1)
def widget_v1_to_v2(data):
    converted = {"item": data.pop("widget"), "quantity": {"value": data.pop("qty"), "uom": "Units"}}
    converted.update(data)
    return converted


@registry.handler("test.widget.made", major=2)
def handle_widget_made_v2(env, event):
    APPLIED_V2.append((event.event_uid, event.payload["item"], event.payload["quantity"]["value"]))
    return event.system_id


class TestUpcasting(IntegrationCase):
    def setUp(self):
        super().setUp()
        APPLIED_V2.clear()
        self.v2 = create_widget_contract(
            self.env,
            version="2.0",
            schema=json.dumps(WIDGET_V2_SCHEMA),
            example=json.dumps({"item": "W-1", "quantity": {"value": 2, "uom": "Units"}}),
        )

    def test_while_version_1_is_active_its_events_stay_version_1(self):
        event = self._receive(self.envelope(widget="A", qty=2))
        self.assertEqual((event.contract_id, event.upcast_from_version), (self.contract, False))
        self.assertEqual(event.state, "done")

    def test_a_version_1_event_is_converted_once_version_1_is_retired(self):
        self.contract.action_retire()
        envelope = self.envelope(widget="B", qty=3)
        event = self._receive(envelope)
        self.assertEqual(event.contract_id, self.v2)
        self.assertEqual((event.contract_version, event.upcast_from_version), ("2.0", "1.0"))
        self.assertEqual(event.payload, {"item": "B", "quantity": {"value": 3, "uom": "Units"}})
        self.assertEqual(event.original_payload, {"widget": "B", "qty": 3})
        self.assertEqual(event.state, "done", event.error)
        self.assertEqual(APPLIED_V2, [(event.event_uid, "B", 3)])
        # a resend is a duplicate of what was sent, not a new event
        again = self._receive(envelope)
        self.assertEqual(again, event)
        self.assertEqual(len(APPLIED_V2), 1)
        # the contract shows who still sends version 1
        usage = self.env["mfg.integration.contract.usage"].search(
            [("contract_id", "=", self.contract.id), ("system_id", "=", self.system.id)]
        )
        self.assertEqual((usage.received, usage.received_24h), (1, 1))

    def test_a_version_1_event_is_checked_against_version_1_first(self):
        self.contract.action_retire()
        results = self.Event.sudo()._ingest(self.system, [self.envelope(widget="C", qty=-1)])
        self.assertEqual(results[0]["status"], "rejected")
        self.assertEqual(results[0]["error"]["code"], "schema_invalid")
        self.assertEqual(results[0]["error"]["pointer"], "/data/qty")

    def test_without_an_upcaster_an_old_version_is_refused_as_before(self):
        old = create_widget_contract(self.env, code="test.gadget.made")
        create_widget_contract(self.env, code="test.gadget.made", version="2.0")
        old.action_retire()
        envelope = dict(
            self.envelope(widget="D"),
            type="test.gadget.made",
            dataschema="urn:mfg:contract:test.gadget.made:1.0",
        )
        results = self.Event.sudo()._ingest(self.system, [envelope])
        self.assertEqual(results[0]["error"]["code"], "unknown_contract_version")
