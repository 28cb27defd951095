import uuid

from odoo.tests.common import TransactionCase

from odoo.addons.mfg_integration_base.tests.common import JobQueue, assert_business_error, utc_stamp
from odoo.addons.mfg_integration_base.tests.receiver import RealTimeouts, Receiver

from ..services.error_classes import REASON_CLASSES

INBOUND_CONTRACTS = (
    "quality.inspection.recorded",
    "quality.lot.held",
    "quality.lot.released",
    "quality.hold.snapshot",
)
OUTBOUND_CONTRACTS = ("quality.hold.placed", "quality.hold.released", "quality.ncr.created")


class QualityCase(RealTimeouts, TransactionCase):
    """A small plant: lot-tracked steel (lot S-1: 100 on hand, S-2: 30) welded into
    lot-tracked frames, a critical thickness point on steel, a QMS allowed to post the
    quality contracts and an MES subscribed (by webhook, a local receiver) to holds, releases
    and NCRs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = Receiver()
        cls.receiver.__enter__()
        cls.addClassCleanup(cls.receiver.__exit__)
        cls.Event = cls.env["mfg.integration.event"]
        cls.Hold = cls.env["mfg.quality.hold"]
        Contract = cls.env["mfg.integration.contract"]
        cls.qms = cls.env["mfg.integration.system"].create(
            {
                "name": "Test QMS",
                "code": "test_qms",
                "kind": "quality",
                "sor_kind_ids": [
                    (4, cls.env.ref("mfg_integration_quality.record_kind_quality_hold").id)
                ],
                "allowed_contract_ids": Contract.search(
                    [("code", "in", INBOUND_CONTRACTS), ("state", "=", "active")]
                ).ids,
            }
        )
        cls.mes = cls.env["mfg.integration.system"].create(
            {
                "name": "Test MES",
                "code": "test_mes_q",
                "kind": "mes",
                "allowed_contract_ids": Contract.search(
                    [("code", "in", OUTBOUND_CONTRACTS), ("state", "=", "active")]
                ).ids,
                "outbound_adapter": "webhook",
                "outbound_url": cls.receiver.url,
                "signing_secret": cls.receiver.secret,
                "outbound_parallel": 1,
            }
        )
        cls.stock = cls.env.ref("stock.stock_location_stock")
        cls.customers = cls.env.ref("stock.stock_location_customers")
        Product = cls.env["product.product"]
        cls.steel = Product.create(
            {"name": "Steel", "default_code": "QSTL", "is_storable": True, "tracking": "lot"}
        )
        cls.frame = Product.create(
            {"name": "Frame", "default_code": "QFRM", "is_storable": True, "tracking": "lot"}
        )
        cls.bom = cls.env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.frame.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [(0, 0, {"product_id": cls.steel.id, "product_qty": 2})],
            }
        )
        cls.point = cls.env["mfg.quality.point"].create(
            {
                "name": "Steel thickness",
                "product_id": cls.steel.id,
                "characteristic": "thickness",
                "test_type": "measure",
                "tolerance_min": 1.9,
                "tolerance_max": 2.1,
                "unit": "mm",
                "critical": True,
            }
        )
        Lot = cls.env["stock.lot"]
        cls.lot_s1 = Lot.create({"name": "S-1", "product_id": cls.steel.id})
        cls.lot_s2 = Lot.create({"name": "S-2", "product_id": cls.steel.id})
        Quant = cls.env["stock.quant"]
        Quant._update_available_quantity(cls.steel, cls.stock, 100, lot_id=cls.lot_s1)
        Quant._update_available_quantity(cls.steel, cls.stock, 30, lot_id=cls.lot_s2)
        cls.customer = cls.env["res.partner"].create({"name": "Customer Ltd"})
        cls.sequence = 0

    def send(self, event_type, data, event_id=None, seconds_ago=0.0, run_delayed=False):
        """Post one QMS event about ``data['lot']`` and run the jobs; the event."""
        type(self).sequence += 1
        event_id = event_id or str(uuid.uuid4())
        queue = JobQueue(self.env)
        result = self.Event._ingest(
            self.qms,
            [
                {
                    "specversion": "1.0",
                    "id": event_id,
                    "source": "plant/qms",
                    "type": event_type,
                    "time": utc_stamp(seconds_ago),
                    "subject": data.get("lot") or "holds",
                    "sequence": f"{self.sequence:012d}",
                    "data": data,
                }
            ],
        )
        self.assertIn(result[0]["status"], ("accepted", "duplicate"), result[0])
        queue.perform_all(immediate_only=not run_delayed)
        return self.Event.search([("system_id", "=", self.qms.id), ("event_uid", "=", event_id)])

    def inspect(self, lot, value, result="pass", **extra):
        data = {
            "lot": lot.name,
            "product_code": lot.product_id.default_code,
            "characteristic": "thickness",
            "value": value,
            "unit": "mm",
            "result": result,
        }
        data.update(extra)
        return self.send("quality.inspection.recorded", data)

    def on_hand(self, lot, location):
        quants = self.env["stock.quant"].search(
            [("lot_id", "=", lot.id), ("location_id", "=", location.id)]
        )
        return sum(quants.mapped("quantity"))

    def quarantine(self):
        return self.stock._mfg_quarantine_location()

    def outbound(self, contract_code):
        return self.Event.search(
            [
                ("direction", "=", "outbound"),
                ("event_type", "=", contract_code),
                ("system_id", "=", self.mes.id),
            ],
            order="id",
        )

    def delivery(self, product, qty):
        """A confirmed delivery of ``qty`` ``product`` from WH/Stock."""
        picking_type = self.env.ref("stock.picking_type_out")
        picking = self.env["stock.picking"].create(
            {
                "picking_type_id": picking_type.id,
                "location_id": self.stock.id,
                "location_dest_id": self.customers.id,
                "partner_id": self.customer.id,
                "move_ids": [
                    (
                        0,
                        0,
                        {
                            "name": product.name,
                            "product_id": product.id,
                            "product_uom_qty": qty,
                            "product_uom": product.uom_id.id,
                            "location_id": self.stock.id,
                            "location_dest_id": self.customers.id,
                        },
                    )
                ],
            }
        )
        picking.action_confirm()
        return picking

    def assertBusinessError(self, event, reason_code):
        assert_business_error(self, event, reason_code, REASON_CLASSES)
