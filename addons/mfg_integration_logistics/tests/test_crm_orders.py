from odoo.tests import tagged

from .common import LogisticsCase


def crm_order(order_id="CRM-1", **changes):
    data = {
        "order_id": order_id,
        "customer_code": "CUST-1",
        "customer_ref": "PO 4711",
        "lines": [
            {"line_id": "1", "product_code": "BRK-100", "qty": 10, "uom": "EA"},
            {"line_id": "2", "product_code": "CBX-200", "qty": 2, "uom": "EA", "unit_price": 99.5},
        ],
    }
    data.update(changes)
    return data


@tagged("post_install", "-at_install")
class TestCrmOrders(LogisticsCase):
    def orders(self, order_id="CRM-1"):
        return self.env["sale.order"].search([("crm_order_ref", "=", order_id)])

    def place(self, data, event_id=None):
        return self.send(self.crm, "crm.order.placed", data["order_id"], data, event_id=event_id)

    def test_a_crm_order_sent_three_times_is_one_sales_order(self):
        first = self.place(crm_order(), event_id="crm-evt-1")
        self.assertDone(first)
        again = self.place(crm_order(), event_id="crm-evt-1")  # the same envelope: duplicate
        self.assertEqual(again, first)
        resent = self.place(crm_order())  # the same order in a new envelope
        self.assertDone(resent)
        order = self.orders()
        self.assertEqual(len(order), 1)
        self.assertEqual(first.result_res_id, order.id)
        self.assertEqual(resent.result_res_id, order.id)
        self.assertEqual(order.state, "draft")
        self.assertEqual((order.partner_id, order.client_order_ref), (self.customer, "PO 4711"))
        self.assertEqual(order.crm_system_id, self.crm)
        self.assertEqual(
            sorted(
                (line.crm_line_ref, line.product_id.default_code, line.product_uom_qty)
                for line in order.order_line
            ),  # fmt: skip
            [("1", "BRK-100", 10), ("2", "CBX-200", 2)],
        )
        self.assertEqual(
            order.order_line.filtered(lambda line: line.crm_line_ref == "2").price_unit, 99.5
        )

    def test_a_change_before_confirmation_updates_the_quotation(self):
        self.assertDone(self.place(crm_order()))
        order = self.orders()
        bracket_line = order.order_line.filtered(lambda line: line.crm_line_ref == "1")
        changed = crm_order(
            lines=[
                {"line_id": "1", "product_code": "BRK-100", "qty": 2, "uom": "DZ"},
                {"line_id": "3", "product_code": "CBX-200", "qty": 1},
            ]
        )
        self.assertDone(self.place(changed))
        self.assertEqual(self.orders(), order)
        self.assertEqual(
            sorted(
                (ln.crm_line_ref, ln.product_uom_qty, ln.product_uom.name)
                for ln in order.order_line
            ),
            [("1", 2, "Dozens"), ("3", 1, "Units")],
        )
        self.assertEqual(
            order.order_line.filtered(lambda line: line.crm_line_ref == "1"), bracket_line
        )

    def test_a_change_after_confirmation_is_a_business_exception(self):
        self.assertDone(self.place(crm_order()))
        order = self.orders()
        order.action_confirm()
        # the unchanged order again is no change
        self.assertDone(self.place(crm_order()))
        changed = self.place(
            crm_order(lines=[{"line_id": "1", "product_code": "BRK-100", "qty": 99}])
        )
        self.assertBusinessError(changed, "order_confirmed")
        self.assertIn(order.name, changed.exception_id.name)
        self.assertEqual(sorted(order.order_line.mapped("product_uom_qty")), [2, 10])

    def test_a_cancelled_order_is_acknowledged_as_cancelled(self):
        self.assertDone(self.place(crm_order()))
        order = self.orders()
        order.action_confirm()
        order._action_cancel()
        acknowledgments = self.Event.search(
            [("event_type", "=", "crm.order.acknowledged"), ("subject", "=", "CRM-1")], order="id"
        )
        self.assertEqual([a.payload["state"] for a in acknowledgments], ["confirmed", "cancelled"])
        self.assertEqual(
            [line["qty_confirmed"] for line in acknowledgments[1].payload["lines"]], [0, 0]
        )

    def test_a_change_from_a_crm_that_does_not_own_sales_orders_is_refused(self):
        self.assertDone(self.place(crm_order()))
        self.crm.sor_kind_ids = [(5, 0, 0)]
        changed = self.place(crm_order(customer_ref="PO 4712"))
        self.assertBusinessError(changed, "sor_conflict")
        self.assertEqual(self.orders().client_order_ref, "PO 4711")

    def test_unknown_codes_open_mapping_exceptions_that_a_mapping_retries(self):
        data = crm_order(
            "CRM-2",
            customer_code="CUST-NEW",
            lines=[{"line_id": "1", "product_code": "BRK-100", "qty": 1}],
        )
        event = self.place(data)
        self.assertBusinessError(event, "mapping_missing")
        self.assertFalse(self.orders("CRM-2"))
        newcomer = self.env["res.partner"].create({"name": "Newcomer Ltd"})
        self.map(self.crm, "partner", {"CUST-NEW": newcomer})
        self.run_jobs()
        self.assertDone(event)
        self.assertEqual(self.orders("CRM-2").partner_id, newcomer)
        unknown_product = self.place(
            crm_order("CRM-3", lines=[{"line_id": "1", "product_code": "NOPE", "qty": 1}])
        )
        self.assertBusinessError(unknown_product, "mapping_missing")
        unknown_unit = self.place(
            crm_order(
                "CRM-4", lines=[{"line_id": "1", "product_code": "CBX-200", "qty": 1, "uom": "PAL"}]
            )
        )
        self.assertBusinessError(unknown_unit, "mapping_missing")
        self.assertFalse(self.orders("CRM-3") | self.orders("CRM-4"))

    def test_duplicate_line_ids_are_refused(self):
        data = crm_order(
            "CRM-5",
            lines=[
                {"line_id": "1", "product_code": "BRK-100", "qty": 1},
                {"line_id": "1", "product_code": "CBX-200", "qty": 1},
            ],
        )
        self.assertBusinessError(self.place(data), "order_duplicate_line")
        self.assertFalse(self.orders("CRM-5"))
