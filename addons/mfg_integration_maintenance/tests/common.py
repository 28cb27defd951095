import uuid

from odoo.tests.common import TransactionCase

from odoo.addons.mfg_integration_base.tests.common import JobQueue, assert_business_error, utc_stamp

from ..services.error_classes import REASON_CLASSES

INBOUND_CONTRACTS = (
    "cmms.workorder.created",
    "cmms.workorder.updated",
    "cmms.workorder.completed",
    "cmms.technician.assigned",
    "cmms.part.reserved",
    "cmms.part.consumed",
    "cmms.downtime.reported",
    "cmms.equipment.updated",
    "cmms.spare_part.updated",
    "cmms.cost.snapshot",
)


class CmmsCase(TransactionCase):
    """A press (work center M1) on equipment EQ-M1 at 60 an hour; its spare parts: bearings
    (10 on hand at 12.00, reorder under 6 up to 20 from a vendor) and filters (3 on hand at
    30.00, reorder under 2, no vendor); a CMMS that owns maintenance requests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Event = cls.env["mfg.integration.event"]
        cls.Request = cls.env["maintenance.request"]
        cls.company = cls.env.company
        cls.company.maintenance_labour_rate = 40.0
        contracts = cls.env["mfg.integration.contract"].search(
            [("code", "in", INBOUND_CONTRACTS), ("state", "=", "active")]
        )
        cls.system = cls.env["mfg.integration.system"].create(
            {
                "name": "Plant CMMS",
                "code": "plant_cmms",
                "kind": "cmms",
                "allowed_contract_ids": contracts.ids,
            }
        )
        cls.own(cls.system, "maintenance_request")
        cls.warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.company.id)], limit=1
        )
        cls.stock = cls.warehouse.lot_stock_id
        cls.maintenance_location = cls.company.maintenance_location_id
        cls.consumption_location = cls.company.maintenance_consumption_location_id
        cls.equipment = cls.env["maintenance.equipment"].create(
            {"name": "Press M1", "serial_no": "SN-M1", "maintenance_labour_rate": 60.0}
        )
        cls.press = cls.env["mrp.workcenter"].create(
            {"name": "Press 1", "code": "M1", "equipment_id": cls.equipment.id}
        )
        cls.env["mfg.integration.mapping"].create(
            {
                "system_id": cls.system.id,
                "kind": "equipment",
                "line_ids": [
                    (
                        0,
                        0,
                        {
                            "external_code": "EQ-M1",
                            "target_ref": f"maintenance.equipment,{cls.equipment.id}",
                        },
                    )
                ],
            }
        )
        cls.vendor = cls.env["res.partner"].create({"name": "Bearings Inc."})
        buy = cls.env.ref("purchase_stock.route_warehouse0_buy")
        Product = cls.env["product.product"]
        cls.bearing = Product.create(
            {
                "name": "Bearing 6204",
                "default_code": "BRG",
                "is_storable": True,
                "is_spare_part": True,
                "standard_price": 12.0,
                "route_ids": [(6, 0, buy.ids)],
                "seller_ids": [(0, 0, {"partner_id": cls.vendor.id, "price": 11.0})],
                "spare_part_equipment_ids": [(6, 0, cls.equipment.ids)],
            }
        )
        cls.filter = Product.create(
            {
                "name": "Hydraulic filter",
                "default_code": "FLT",
                "is_storable": True,
                "is_spare_part": True,
                "standard_price": 30.0,
                "route_ids": [(6, 0, buy.ids)],
            }
        )
        Quant = cls.env["stock.quant"]
        Quant._update_available_quantity(cls.bearing, cls.stock, 10)
        Quant._update_available_quantity(cls.filter, cls.stock, 3)
        Orderpoint = cls.env["stock.warehouse.orderpoint"]
        for part, minimum, maximum in ((cls.bearing, 6, 20), (cls.filter, 2, 5)):
            Orderpoint.create(
                {
                    "product_id": part.id,
                    "location_id": cls.stock.id,
                    "warehouse_id": cls.warehouse.id,
                    "product_min_qty": minimum,
                    "product_max_qty": maximum,
                    "trigger": "manual",
                }
            )
        cls.technician = cls.env["res.users"].create(
            {"name": "Tess Technician", "login": "tess", "email": "tess@example.com"}
        )
        cls.sequence = 0

    @classmethod
    def own(cls, system, kind_code):
        """Make ``system`` the system of record of ``kind_code``."""
        kind = cls.env["mfg.integration.record.kind"].search([("code", "=", kind_code)])
        system.sor_kind_ids = [(4, kind.id)]

    def envelope(self, event_type, data, event_id=None, seconds_ago=0.0, subject=None):
        type(self).sequence += 1
        return {
            "specversion": "1.0",
            "id": event_id or str(uuid.uuid4()),
            "source": "plant/cmms",
            "type": event_type,
            "time": utc_stamp(seconds_ago),
            "subject": subject or data.get("workorder_ref") or data.get("part_code"),
            "sequence": f"{self.sequence:012d}",
            "data": data,
        }

    def deliver(self, envelopes, immediate_only=True):
        """Post ``envelopes`` as one batch and run the jobs; the events, in the given order."""
        queue = JobQueue(self.env)
        results = self.Event._ingest(self.system, list(envelopes))
        for result in results:
            self.assertIn(result["status"], ("accepted", "duplicate"), result)
        queue.perform_all(immediate_only=immediate_only)
        return [
            self.Event.search(
                [("system_id", "=", self.system.id), ("event_uid", "=", envelope["id"])]
            )
            for envelope in envelopes
        ]

    def send(self, event_type, data, **options):
        """Post one CMMS event and run the jobs; the event."""
        return self.deliver([self.envelope(event_type, data, **options)])[0]

    def create_order(self, reference="WO-1", **data):
        values = {
            "workorder_ref": reference,
            "title": "Replace spindle bearings",
            "maintenance_type": "preventive",
            "equipment": "EQ-M1",
            "planned_start": "2026-12-07T06:00:00Z",
            "planned_hours": 3,
            "technician": "tess",
            "priority": "high",
        }
        values.update(data)
        event = self.send("cmms.workorder.created", values)
        self.assertEqual(event.state, "done", event.error)
        return self.request(reference)

    def request(self, reference="WO-1"):
        return self.Request.search(
            [("cmms_system_id", "=", self.system.id), ("cmms_ref", "=", reference)]
        )

    def quantity(self, product, location):
        quants = self.env["stock.quant"].search(
            [("product_id", "=", product.id), ("location_id", "=", location.id)]
        )
        return sum(quants.mapped("quantity"))

    def assertBusinessError(self, event, reason_code):
        assert_business_error(self, event, reason_code, REASON_CLASSES)
