import uuid

from odoo.tests.common import TransactionCase

from odoo.addons.mfg_integration_base.tests.common import JobQueue, assert_business_error, utc_stamp

from ..services.error_classes import REASON_CLASSES

INBOUND_CONTRACTS = (
    "mes.workorder.started",
    "mes.production.progress",
    "mes.production.completed",
    "mes.material.consumed",
    "mes.scrap.reported",
)


class MesCase(TransactionCase):
    """A small plant: a press, a plain and a lot-tracked product built from lot-tracked steel
    and screws, steel lot S-1 on hand, and an MES allowed to post the production contracts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Event = cls.env["mfg.integration.event"]
        cls.Production = cls.env["mrp.production"]
        contracts = cls.env["mfg.integration.contract"].search(
            [("code", "in", INBOUND_CONTRACTS), ("state", "=", "active")]
        )
        cls.system = cls.env["mfg.integration.system"].create(
            {"name": "Plant MES", "code": "plant_mes", "allowed_contract_ids": contracts.ids}
        )
        cls.stock = cls.env.ref("stock.stock_location_stock")
        cls.unit = cls.env.ref("uom.product_uom_unit")
        cls.dozen = cls.env.ref("uom.product_uom_dozen")
        cls.press = cls.env["mrp.workcenter"].create({"name": "Press 1", "code": "M1"})
        Product = cls.env["product.product"]
        cls.steel = Product.create(
            {"name": "Steel", "default_code": "STL", "is_storable": True, "tracking": "lot"}
        )
        cls.screw = Product.create({"name": "Screw", "default_code": "SCR", "is_storable": True})
        cls.plate = Product.create({"name": "Plate", "default_code": "PLT", "is_storable": True})
        cls.bracket = Product.create(
            {"name": "Bracket", "default_code": "BRK", "is_storable": True, "tracking": "lot"}
        )
        for product in cls.plate | cls.bracket:
            cls.env["mrp.bom"].create(
                {
                    "product_tmpl_id": product.product_tmpl_id.id,
                    "product_qty": 1,
                    "bom_line_ids": [
                        (0, 0, {"product_id": cls.steel.id, "product_qty": 2}),
                        (0, 0, {"product_id": cls.screw.id, "product_qty": 4}),
                    ],
                    "operation_ids": [
                        (0, 0, {"name": "Assembly", "workcenter_id": cls.press.id}),
                    ],
                }
            )
        cls.lot_s1 = cls.env["stock.lot"].create({"name": "S-1", "product_id": cls.steel.id})
        cls.lot_s2 = cls.env["stock.lot"].create({"name": "S-2", "product_id": cls.steel.id})
        Quant = cls.env["stock.quant"]
        Quant._update_available_quantity(cls.steel, cls.stock, 100, lot_id=cls.lot_s1)
        Quant._update_available_quantity(cls.steel, cls.stock, 1, lot_id=cls.lot_s2)
        Quant._update_available_quantity(cls.screw, cls.stock, 1000)
        cls.sequence = 0

    def order(self, product=None, qty=10):
        production = self.Production.create(
            {"product_id": (product or self.plate).id, "product_qty": qty}
        )
        production.action_confirm()
        return production

    def send(self, event_type, data, event_id=None):
        """Post one MES event about ``data['production_ref']`` and run the jobs; the event."""
        type(self).sequence += 1
        event_id = event_id or str(uuid.uuid4())
        queue = JobQueue(self.env)
        result = self.Event._ingest(
            self.system,
            [
                {
                    "specversion": "1.0",
                    "id": event_id,
                    "source": "plant/mes",
                    "type": event_type,
                    "time": utc_stamp(),
                    "subject": data["production_ref"],
                    "sequence": f"{self.sequence:012d}",
                    "data": data,
                }
            ],
        )
        self.assertIn(result[0]["status"], ("accepted", "duplicate"), result[0])
        queue.perform_all(immediate_only=True)
        return self.Event.search([("system_id", "=", self.system.id), ("event_uid", "=", event_id)])

    def report(self, event_type, production, event_id=None, **data):
        """``send`` an event about ``production``, named by its MES reference."""
        return self.send(
            event_type, dict(data, production_ref=production.mes_order_ref), event_id=event_id
        )

    def chain(self, production):
        return self.Production.search(
            [("mes_order_ref", "=", production.mes_order_ref)], order="id"
        )

    def on_hand(self, product, lot=None):
        domain = [("product_id", "=", product.id), ("location_id", "child_of", self.stock.id)]
        if lot:
            domain.append(("lot_id", "=", lot.id))
        return sum(self.env["stock.quant"].search(domain).mapped("quantity"))

    def assertBusinessError(self, event, reason_code, error_class=None):
        assert_business_error(self, event, reason_code, REASON_CLASSES)
        if error_class:
            self.assertEqual(event.exception_id.error_class, error_class)
