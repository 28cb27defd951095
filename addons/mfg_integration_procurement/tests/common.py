import uuid
from datetime import timedelta

from odoo import fields
from odoo.tests.common import TransactionCase

from odoo.addons.mfg_integration_base.tests.common import JobQueue, assert_business_error, utc_stamp
from odoo.addons.mfg_integration_base.tests.receiver import RealTimeouts, Receiver

from ..services.error_classes import REASON_CLASSES

INBOUND_CONTRACTS = ("supplier.po.confirmed", "supplier.shipment.notified", "supplier.po.rejected")
OUTBOUND_CONTRACTS = (
    "procurement.goods.received",
    "procurement.shortage.detected",
    "procurement.shortage.resolved",
)


def iso(moment):
    """A naive UTC datetime as the RFC 3339 text a supplier sends."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class ProcurementCase(RealTimeouts, TransactionCase):
    """A supplier portal allowed to post the supplier contracts, a planning system that
    subscribes to receipts and shortages (a local webhook receiver), lot-tracked steel
    bought from Steel Supplies under its code SUP-STL, and brackets built from steel.

    Dates are relative to the clock: the steel is ordered for tomorrow; ``order_bracket``
    plans a manufacturing order that starts in three days.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Event = cls.env["mfg.integration.event"]
        cls.Shortage = cls.env["mfg.procurement.shortage"]
        Contract = cls.env["mfg.integration.contract"]
        cls.portal = cls.env["mfg.integration.system"].create(
            {
                "name": "Supplier Portal",
                "code": "supplier_portal",
                "kind": "supplier",
                "allowed_contract_ids": Contract.search(
                    [("code", "in", INBOUND_CONTRACTS), ("state", "=", "active")]
                ).ids,
            }
        )
        cls.receiver = Receiver()
        cls.receiver.__enter__()
        cls.addClassCleanup(cls.receiver.__exit__)
        cls.planning = cls.env["mfg.integration.system"].create(
            {
                "name": "Planning Board",
                "code": "planning_board",
                "kind": "erp",
                "allowed_contract_ids": Contract.search(
                    [("code", "in", OUTBOUND_CONTRACTS), ("state", "=", "active")]
                ).ids,
                "outbound_adapter": "webhook",
                "outbound_url": cls.receiver.url,
                "signing_secret": cls.receiver.secret,
                "outbound_parallel": 1,
            }
        )
        cls.supplier = cls.env["res.partner"].create({"name": "Steel Supplies", "is_company": True})
        Product = cls.env["product.product"]
        cls.steel = Product.create(
            {
                "name": "Steel",
                "default_code": "STL",
                "is_storable": True,
                "tracking": "lot",
                "seller_ids": [(0, 0, {"partner_id": cls.supplier.id, "product_code": "SUP-STL"})],
            }
        )
        cls.bolt = Product.create(
            {
                "name": "Bolt",
                "default_code": "BLT",
                "is_storable": True,
                "seller_ids": [(0, 0, {"partner_id": cls.supplier.id, "product_code": "SUP-BLT"})],
            }
        )
        cls.bracket = Product.create(
            {"name": "Bracket", "default_code": "BRK", "is_storable": True}
        )
        cls.env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.bracket.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [
                    (0, 0, {"product_id": cls.steel.id, "product_qty": 2}),
                    (0, 0, {"product_id": cls.bolt.id, "product_qty": 4}),
                ],
            }
        )
        cls.now = fields.Datetime.now().replace(microsecond=0)
        cls.sequence = 0

    def purchase(self, lines=None, days=1):
        """A confirmed purchase order of steel (100) and bolts (400), due in ``days``."""
        order = self.env["purchase.order"].create(
            {
                "partner_id": self.supplier.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": product.id,
                            "product_qty": qty,
                            "price_unit": price,
                            "date_planned": self.now + timedelta(days=days),
                        },
                    )
                    for product, qty, price in lines
                    or [(self.steel, 100, 4.0), (self.bolt, 400, 0.1)]
                ],
            }
        )
        order.button_confirm()
        return order

    def order_bracket(self, qty=10, days=3):
        production = self.env["mrp.production"].create(
            {
                "product_id": self.bracket.id,
                "product_qty": qty,
                "date_start": self.now + timedelta(days=days),
            }
        )
        production.action_confirm()
        return production

    def send(self, event_type, data, seconds_ago=0.0, event_id=None):
        """Post one supplier event about ``data['po_ref']``, made ``seconds_ago`` before the
        run's start, and run the jobs; the event."""
        type(self).sequence += 1
        event_id = event_id or str(uuid.uuid4())
        queue = JobQueue(self.env)
        result = self.Event._ingest(
            self.portal,
            [
                {
                    "specversion": "1.0",
                    "id": event_id,
                    "source": "supplier/steel-supplies",
                    "type": event_type,
                    "time": utc_stamp(seconds_ago),
                    "subject": data["po_ref"],
                    "sequence": f"{self.sequence:012d}",
                    "data": data,
                }
            ],
        )
        self.assertIn(result[0]["status"], ("accepted", "duplicate"), result[0])
        queue.perform_all(immediate_only=True)
        return self.Event.search([("system_id", "=", self.portal.id), ("event_uid", "=", event_id)])

    def confirm(self, order, lines, seconds_ago=0.0, event_id=None):
        return self.send(
            "supplier.po.confirmed",
            {"po_ref": order.name, "lines": lines},
            seconds_ago=seconds_ago,
            event_id=event_id,
        )

    def line(self, order, product):
        return order.order_line.filtered(lambda line: line.product_id == product)

    def receipt(self, order):
        return order.picking_ids.filtered(lambda p: p.state not in ("done", "cancel"))

    def receive(self, picking, quantities, backorder=False):
        """Validate ``picking`` with ``{product: [(lot or None, qty)]}`` counted."""
        picking.move_line_ids.unlink()
        for move in picking.move_ids:
            for lot, qty in quantities.get(move.product_id, []):
                self.env["stock.move.line"].create(
                    {
                        "move_id": move.id,
                        "picking_id": picking.id,
                        "product_id": move.product_id.id,
                        "product_uom_id": move.product_uom.id,
                        "location_id": move.location_id.id,
                        "location_dest_id": move.location_dest_id.id,
                        "quantity": qty,
                        "lot_name": lot or False,
                        "picked": True,
                    }
                )
        picking.move_ids.picked = True
        queue = JobQueue(self.env)
        context = {"skip_backorder": True}
        if not backorder:
            context["picking_ids_not_to_backorder"] = picking.ids
        result = picking.with_context(**context).button_validate()
        self.assertIs(result, True, result)
        queue.perform_all(immediate_only=True)
        return picking

    def open_shortages(self, order=None):
        domain = [("state", "=", "open")]
        if order:
            domain.append(("purchase_id", "=", order.id))
        return self.Shortage.search(domain)

    def outbound(self, contract_code, subject=None):
        domain = [("direction", "=", "outbound"), ("event_type", "=", contract_code)]
        if subject:
            domain.append(("subject", "=", subject))
        return self.Event.search(domain, order="id")

    def assertBusinessError(self, event, reason_code):
        assert_business_error(self, event, reason_code, REASON_CLASSES)
