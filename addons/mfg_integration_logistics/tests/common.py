import uuid

from odoo.tests.common import TransactionCase

from odoo.addons.mfg_integration_base.tests.common import JobQueue, assert_business_error, utc_stamp
from odoo.addons.mfg_integration_base.tests.receiver import RealTimeouts, Receiver

from ..services.error_classes import REASON_CLASSES

WMS_CONTRACTS = (
    "wms.stock.moved",
    "wms.inventory.adjusted",
    "wms.shipment.confirmed",
    "wms.inventory.snapshot",
    "wms.delivery.released",
)
CRM_CONTRACTS = ("crm.order.placed", "crm.order.acknowledged", "crm.delivery.status")


class LogisticsCase(RealTimeouts, TransactionCase):
    """A distribution center: a WMS and a CRM (both receiving webhooks on a local receiver),
    a made-to-order lot-tracked bracket (BRK-100, from screws), a control box from stock
    (CBX-200), shelves A and B under the warehouse's stock, and a mapped customer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Event = cls.env["mfg.integration.event"]
        cls.receiver = Receiver()
        cls.receiver.__enter__()
        cls.addClassCleanup(cls.receiver.__exit__)
        Contract = cls.env["mfg.integration.contract"]
        System = cls.env["mfg.integration.system"]
        common = {
            "outbound_adapter": "webhook",
            "outbound_url": cls.receiver.url,
            "signing_secret": cls.receiver.secret,
            "outbound_parallel": 1,
        }
        cls.wms = System.create(
            dict(
                common,
                name="DC WMS",
                code="dc_wms",
                kind="wms",
                allowed_contract_ids=Contract.search([("code", "in", WMS_CONTRACTS)]).ids,
            )
        )
        cls.crm = System.create(
            dict(
                common,
                name="Cloud CRM",
                code="cloud_crm",
                kind="crm",
                allowed_contract_ids=Contract.search([("code", "in", CRM_CONTRACTS)]).ids,
            )
        )
        # the CRM owns sales orders, the WMS the stock (counts overwrite Odoo's quantities)
        RecordKind = cls.env["mfg.integration.record.kind"]
        cls.crm.sor_kind_ids = [(4, RecordKind._by_code("sales_order").id)]
        cls.wms.sor_kind_ids = [(4, RecordKind._by_code("stock").id)]
        cls.warehouse = cls.env.ref("stock.warehouse0")
        cls.stock = cls.warehouse.lot_stock_id
        Location = cls.env["stock.location"]
        cls.shelf_a = Location.create({"name": "Shelf A", "location_id": cls.stock.id})
        cls.shelf_b = Location.create({"name": "Shelf B", "location_id": cls.stock.id})
        cls.unit = cls.env.ref("uom.product_uom_unit")
        cls.dozen = cls.env.ref("uom.product_uom_dozen")
        Product = cls.env["product.product"]
        cls.screw = Product.create({"name": "Screw", "default_code": "SCR", "is_storable": True})
        mto = cls.env.ref("stock.route_warehouse0_mto")
        mto.active = True
        manufacture = cls.env.ref("mrp.route_warehouse0_manufacture")
        cls.bracket = Product.create(
            {
                "name": "Steel Bracket",
                "default_code": "BRK-100",
                "is_storable": True,
                "tracking": "lot",
                "route_ids": [(6, 0, (mto | manufacture).ids)],
            }
        )
        cls.env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.bracket.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [(0, 0, {"product_id": cls.screw.id, "product_qty": 4})],
            }
        )
        cls.box = Product.create(
            {"name": "Control Box", "default_code": "CBX-200", "is_storable": True}
        )
        cls.customer = cls.env["res.partner"].create(
            {"name": "ACME Corp", "ref": "ACME", "street": "1 Main St", "city": "Brussels"}
        )
        Quant = cls.env["stock.quant"]
        Quant._update_available_quantity(cls.screw, cls.stock, 1000)
        Quant._update_available_quantity(cls.box, cls.stock, 50)
        cls.map(cls.wms, "location", {"WMS-A": cls.shelf_a, "WMS-B": cls.shelf_b})
        for system in cls.wms | cls.crm:
            cls.map(system, "product", {"BRK-100": cls.bracket, "CBX-200": cls.box})
            cls.map(system, "uom", {"EA": cls.unit, "DZ": cls.dozen})
        cls.map(cls.crm, "partner", {"CUST-1": cls.customer})
        cls.sequence = 0

    def setUp(self):
        super().setUp()
        self.queue = JobQueue(self.env)

    @classmethod
    def map(cls, system, kind, codes):
        Mapping = cls.env["mfg.integration.mapping"]
        mapping = Mapping.search([("system_id", "=", system.id), ("kind", "=", kind)])
        mapping = mapping or Mapping.create({"system_id": system.id, "kind": kind})
        for code, record in codes.items():
            cls.env["mfg.integration.mapping.line"].create(
                {
                    "mapping_id": mapping.id,
                    "external_code": code,
                    "target_ref": f"{record._name},{record.id}",
                }
            )
        return mapping

    def send(self, system, event_type, subject, data, event_id=None, seconds_ago=0.0):
        """Post one event of ``system`` and run the jobs it makes (not those planned for
        later); the event."""
        type(self).sequence += 1
        event_id = event_id or str(uuid.uuid4())
        result = self.Event._ingest(
            system,
            [
                {
                    "specversion": "1.0",
                    "id": event_id,
                    "source": f"dc/{system.code}",
                    "type": event_type,
                    "time": utc_stamp(seconds_ago),
                    "subject": subject,
                    "sequence": f"{self.sequence:012d}",
                    "data": data,
                }
            ],
        )
        self.assertIn(result[0]["status"], ("accepted", "duplicate"), result[0])
        self.run_jobs()
        return self.Event.search([("system_id", "=", system.id), ("event_uid", "=", event_id)])

    def run_jobs(self):
        """Run the jobs made since the test started (processing, delivery to the receiver)."""
        self.queue.perform_all(immediate_only=True)

    def outbound(self, event_type, subject=None):
        domain = [("direction", "=", "outbound"), ("event_type", "=", event_type)]
        if subject:
            domain.append(("subject", "=", subject))
        return self.Event.search(domain, order="id")

    def on_hand(self, product, location, lot=None):
        domain = [("product_id", "=", product.id), ("location_id", "=", location.id)]
        if lot is not None:
            domain.append(("lot_id", "=", lot.id))
        return sum(self.env["stock.quant"].search(domain).mapped("quantity"))

    def hold(self, lot, reason):
        """Put ``lot`` on quality hold the quality addon's way; skip the test without it."""
        if "mfg.quality.hold" not in self.env or "mfg_on_hold" not in lot._fields:
            self.skipTest(
                "the quality addon (stock.lot.mfg_on_hold, mfg.quality.hold) is not installed "
                "in this database: run this test where it is"
            )
        self.env["mfg.quality.hold"]._place(lot, reason)
        self.assertTrue(lot.mfg_on_hold)

    def assertBusinessError(self, event, reason_code):
        assert_business_error(self, event, reason_code, REASON_CLASSES)

    def assertDone(self, event):
        self.assertEqual(event.state, "done", event.error or event.exception_id.display_name)
