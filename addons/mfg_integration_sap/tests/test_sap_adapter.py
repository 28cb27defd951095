"""The SAP adapter against a scripted SAP on 127.0.0.1, one request per event: no database.

The scripted server keeps the confirmations and material documents it created, so each test
reads what SAP holds, not only what the adapter says.
"""

import json
import unittest

from odoo.addons.mfg_integration_base.services.adapters import Message

from ..adapters.sap_odata import SapODataAdapter, _waves
from ..services import sap_messages
from ..services.sap_settings import SapSettings
from .odata_fake_server import FakeSap, Reply, json_reply, sap_error

ROOT = "/sap/opu/odata/sap/"
CONFIRMATIONS = ROOT + "API_PROD_ORDER_CONFIRMATION_2_SRV/ProdnOrdConf2"
DOCUMENTS = ROOT + "API_MATERIAL_DOCUMENT_SRV/A_MaterialDocumentHeader"


def confirmation(uid, order="1000001", qty="5", subject=None):
    envelope = {
        "id": uid,
        "type": sap_messages.CONFIRMATION_CONTRACT,
        "data": {"OrderID": order, "ConfirmationYieldQuantity": qty, "ConfirmationUnit": "PC"},
    }
    return Message(len(uid), envelope, subject or order, None, True)


def goods_movement(uid, order="1000001"):
    envelope = {
        "id": uid,
        "type": sap_messages.GOODS_MOVEMENT_CONTRACT,
        "data": {
            "GoodsMovementCode": "02",
            "PostingDate": "2026-11-23",
            "items": [
                {
                    "Material": "FG-100",
                    "Plant": "1010",
                    "StorageLocation": "0001",
                    "GoodsMovementType": "101",
                    "QuantityInEntryUnit": "5",
                    "EntryUnit": "PC",
                    "ManufacturingOrder": order,
                    "Batch": "L1",
                }
            ],
        },
    }
    return Message(len(uid) + 1000, envelope, order, None, True)


class ScriptedSap:
    """Creates what it is posted, answers lookups by the idempotency fields, and lets a test
    break the next write (``fault``: a callable returning a Reply, or None to answer)."""

    def __init__(self):
        self.fake = FakeSap()
        self.confirmations = []
        self.documents = []
        self.fault = None
        self.fake.handle = self.handle

    def handle(self, request):
        if request.header("x-csrf-token") == "Fetch":
            return Reply(200, b"", {"X-CSRF-Token": "tok", "Set-Cookie": "s=1; Path=/"})
        if request.method == "GET":
            condition = request.query.get("$filter", "")
            field_name, _, value = condition.partition(" eq ")
            value = value.strip("'")
            rows = self.confirmations if request.path == CONFIRMATIONS else self.documents
            found = [row for row in rows if row.get(field_name) == value]
            return json_reply({"d": {"results": found[:1]}})
        body = json.loads(request.text)
        fault = self.fault(request) if self.fault else None
        if fault is not None and not fault.drop:
            return fault
        if request.path == CONFIRMATIONS:
            body.update(ConfirmationGroup="1", ConfirmationCount=str(len(self.confirmations) + 1))
            self.confirmations.append(body)
        else:
            body.update(MaterialDocument=str(4900000000 + len(self.documents)))
            body["MaterialDocumentYear"] = "2026"
            self.documents.append(body)
        # a fault that drops the connection after the write: SAP applied it, the answer is lost
        return fault or json_reply({"d": body}, 201)

    def close(self):
        self.fake.close()


class TestSapAdapter(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.sap = ScriptedSap()
        self.addCleanup(self.sap.close)
        settings = SapSettings(
            system_code="sap_test",
            url=self.sap.fake.url + ROOT,
            read_timeout=5.0,
            username="MFG_COMM_USER",
            password="secret",
            batch_enabled=False,
        )
        self.adapter = SapODataAdapter(settings)
        self.addCleanup(self.adapter.close)

    def test_keys_fit_sap_fields_and_are_stable(self):
        guid = sap_messages.confirmation_guid("7d0c-1")
        self.assertEqual(len(guid), 32)  # ExternalSystemConfirmation is CHAR 32
        self.assertEqual(guid, sap_messages.confirmation_guid("7d0c-1"))
        self.assertNotEqual(guid, sap_messages.confirmation_guid("7d0c-2"))
        reference = sap_messages.movement_reference("7d0c-1")
        self.assertEqual(len(reference), 25)  # MaterialDocumentHeaderText is CHAR 25
        self.assertTrue(reference.startswith("ODOO-"))

    def test_posts_confirmation_and_goods_movement_with_their_keys(self):
        outcomes = self.adapter.deliver([confirmation("c1"), goods_movement("g1")])
        self.assertEqual([o.status for o in outcomes], ["delivered", "delivered"])
        [posted] = self.sap.confirmations
        self.assertEqual(posted["ExternalSystemConfirmation"], sap_messages.confirmation_guid("c1"))
        self.assertEqual(posted["ConfirmationYieldQuantity"], "5")
        [document] = self.sap.documents
        self.assertEqual(document["GoodsMovementCode"], "02")
        self.assertEqual(
            document["MaterialDocumentHeaderText"], sap_messages.movement_reference("g1")
        )
        self.assertEqual(document["PostingDate"], "/Date(1795392000000)/")
        [item] = document["to_MaterialDocumentItem"]
        self.assertEqual((item["GoodsMovementType"], item["Batch"]), ("101", "L1"))
        self.assertEqual(item["GoodsMovementRefDocType"], "F")
        auth = [r.header("authorization") for r in self.sap.fake.requests]
        self.assertTrue(all(value and value.startswith("Basic ") for value in auth))

    def test_answer_lost_after_the_write_is_not_posted_twice(self):
        self.sap.fault = lambda request: Reply(drop=True)
        [outcome] = self.adapter.deliver([confirmation("c1")])
        self.assertEqual(outcome.status, "technical")
        # a write that may have happened: looked up only after SAP surely finished it
        self.assertGreaterEqual(outcome.retry_after, 5.0)
        self.assertEqual(len(self.sap.confirmations), 1)
        self.sap.fault = None
        [outcome] = self.adapter.deliver([confirmation("c1")])
        self.assertEqual(outcome.status, "delivered")
        self.assertIn("already held", outcome.summary)
        self.assertEqual(len(self.sap.confirmations), 1)
        posts = [r for r in self.sap.fake.requests if r.method == "POST"]
        self.assertEqual(len(posts), 1)

    def test_business_error_in_plain_words_and_later_events_of_its_order_wait(self):
        def refuse_order_2(request):
            if json.loads(request.text).get("OrderID") == "1000002":
                return sap_error(
                    400,
                    "RU/254",
                    "Order 1000002 is locked by user PLANNER1",
                    details=[{"code": "RU/254", "message": "Try again later", "severity": "error"}],
                )
            return None

        self.sap.fault = refuse_order_2
        outcomes = self.adapter.deliver(
            [
                confirmation("a1", order="1000002"),
                confirmation("b1", order="1000003"),
                confirmation("a2", order="1000002"),
            ]
        )
        self.assertEqual([o.status for o in outcomes], ["business", "delivered", "skipped"])
        self.assertEqual(outcomes[0].error_class, "intermittent", "a user's lock: retried first")
        self.assertEqual(
            outcomes[0].summary,
            "SAP refused the confirmation: Order 1000002 is locked by user PLANNER1 "
            "(Try again later) [SAP RU/254]",
        )
        self.assertEqual([c["OrderID"] for c in self.sap.confirmations], ["1000003"])

    def test_rate_limit_is_retried_after_sap_says_and_the_round_stops(self):
        self.sap.fault = lambda request: sap_error(
            429, "/IWFND/CM/429", "Too many", **{"Retry-After": "7"}
        )
        outcomes = self.adapter.deliver([confirmation("a1"), confirmation("b1", order="1000009")])
        self.assertEqual([o.status for o in outcomes], ["technical", "skipped"])
        self.assertEqual(outcomes[0].retry_after, 7.0)
        self.assertEqual(outcomes[0].http_status, 429)
        self.assertEqual(outcomes[0].error_class, "rate_limited")
        self.assertEqual(self.sap.confirmations, [])

    def test_event_data_sap_cannot_take_is_a_business_outcome(self):
        broken = Message(1, {"id": "x", "type": sap_messages.CONFIRMATION_CONTRACT, "data": {}})
        [outcome] = self.adapter.deliver([broken])
        self.assertEqual(outcome.status, "business")
        self.assertIn("OrderID", outcome.summary)

    def test_waves_hold_one_event_per_subject_in_order(self):
        messages = [
            confirmation("a1", order="A"),
            confirmation("a2", order="A"),
            confirmation("b1", order="B"),
            confirmation("a3", order="A"),
        ]
        plans = [type("P", (), {"subject": m.subject, "uid": m.cloudevent_id}) for m in messages]
        waves = [[plan.uid for plan in wave] for wave in _waves(plans)]
        self.assertEqual(waves, [["a1", "b1"], ["a2"], ["a3"]])

    def test_an_answer_that_is_no_batch_answer_is_retried_not_a_crash(self):
        def proxy_page(request):
            if request.header("x-csrf-token") == "Fetch":
                return Reply(200, b"", {"X-CSRF-Token": "tok"})
            return Reply(200, "<html>Login</html>", {"Content-Type": "text/html"})

        self.sap.fake.handle = proxy_page
        adapter = SapODataAdapter(
            SapSettings(system_code="sap_test", url=self.sap.fake.url + ROOT, batch_enabled=True)
        )
        self.addCleanup(adapter.close)
        outcomes = adapter.deliver([confirmation("a1"), confirmation("b1", order="1000009")])
        self.assertEqual([o.status for o in outcomes], ["technical", "technical"])
        self.assertIn("could not be read", outcomes[0].summary)
