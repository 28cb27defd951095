"""Error classes of the SAP flows: SAP's refusals classed by what SAP says (an order locked
by a user is intermittent), and a handler's refusal opening an exception of its class."""

import json
import unittest
import uuid

from odoo.tests import tagged

from odoo.addons.mfg_integration_base.tests.common import JobQueue, utc_stamp

from ..services.error_classes import error_class_of
from ..services.odata.errors import ConnectionFailed, CsrfTokenRejected, classify_response
from .common import SapCase


def refusal(status, code, sentence):
    body = json.dumps({"error": {"code": code, "message": {"lang": "en", "value": sentence}}})
    return classify_response(status, {"Content-Type": "application/json"}, body)


class TestSapRefusalClasses(unittest.TestCase):
    def test_sap_refusals_are_classed_by_what_sap_says(self):
        cases = [
            (
                (400, "CO/473", "Order 1000004 is currently being processed by user P1"),
                "intermittent",
            ),
            ((400, "RU/254", "Order 1000002 is locked by user PLANNER1"), "intermittent"),
            ((423, "ZZ/001", "Auftrag 1000002 ist gesperrt"), "intermittent"),
            (
                (400, "M3/305", "The material X does not exist or is not activated"),
                "missing_reference",
            ),
            (
                (400, "M7/053", "Posting only possible in periods 2026/12 and 2026/11"),
                "business_rule",
            ),
            ((400, "RU/221", "Unit KG cannot be converted to the operation unit PC"), "value"),
            ((400, "RU/505", "Confirmation 1/1 with external key K already exists"), "duplicate"),
            ((429, "/IWFND/CM/429", "Too many requests"), "rate_limited"),
            ((401, "", "Unauthorized"), "connection"),
            # a message code nobody classed: the HTTP status decides (400: a wrong value)
            ((400, "ZZ/999", "Something else"), None),
        ]
        for (status, code, sentence), expected in cases:
            with self.subTest(code=code):
                self.assertEqual(error_class_of(refusal(status, code, sentence)), expected)
        csrf = CsrfTokenRejected("SAP rejected a freshly fetched CSRF token", status=403)
        self.assertEqual(error_class_of(csrf), "connection")
        self.assertEqual(error_class_of(ConnectionFailed("Connection reset by peer")), "connection")


@tagged("post_install", "-at_install")
class TestSapHandlerClasses(SapCase):
    def test_an_order_sap_lowered_below_what_odoo_made_is_a_wrong_value(self):
        production = self.sap_order(number="1000321", qty=10)
        self.produce(production, 4, "L-321", backorder=True)
        kind = self.env["mfg.integration.record.kind"]._by_code("manufacturing_order")
        self.system.sor_kind_ids = [(6, 0, kind.ids)]
        envelope = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": f"sap/{self.system.code}",
            "type": "sap.productionorder.released",
            "time": utc_stamp(),
            "subject": "1000321",
            "data": {
                "ManufacturingOrder": "1000321",
                "Material": "FG-100",
                "ProductionPlant": "1010",
                "TotalQuantity": "3",
                "ProductionUnit": "PC",
            },
        }
        queue = JobQueue(self.env)
        self.Event.sudo()._ingest(self.system, [envelope])
        queue.perform_all(immediate_only=True)
        event = self.Event.search([("event_uid", "=", envelope["id"])])
        self.assertEqual(event.state, "failed", event.error)
        exception = event.exception_id
        self.assertEqual(
            (exception.reason_code, exception.category, exception.error_class),
            ("order_quantity_below_done", "business", "value"),
        )
        backorder = self.Production.search([("sap_order_number", "=", "1000321")]) - production
        self.assertEqual(backorder.product_qty, 6, "SAP's lower quantity was not applied")
