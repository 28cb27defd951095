from odoo.tests.common import TransactionCase

from ..services import sap_messages

SAP_CONTRACTS = (
    "sap.productionorder.released",
    "sap.material.changed",
    "sap.bom.changed",
    sap_messages.CONFIRMATION_CONTRACT,
    sap_messages.GOODS_MOVEMENT_CONTRACT,
)


class SapCase(TransactionCase):
    """A plant with an SAP system (plant 1010, storage location 0001): a lot-tracked bracket
    built from lot-tracked steel (lot S-1 on hand) and screws, mapped to SAP materials."""

    sap_url = "http://127.0.0.1:9/sap/opu/odata/sap/"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Event = cls.env["mfg.integration.event"]
        cls.Production = cls.env["mrp.production"]
        contracts = cls.env["mfg.integration.contract"].search(
            [("code", "in", SAP_CONTRACTS), ("state", "=", "active")]
        )
        cls.system = cls.env["mfg.integration.system"].create(
            {
                "name": "SAP S/4HANA",
                "code": "sap_s4_test",
                "kind": "erp",
                "allowed_contract_ids": contracts.ids,
                "outbound_adapter": "sap_odata",
                "sap_service_root": cls.sap_url,
                "sap_username": "MFG_COMM_USER",
                "sap_password": "secret",
                "sap_plant": "1010",
                "sap_storage_location": "0002",
                "sap_issue_storage_location": "0001",
                "outbound_read_timeout": 2.0,
                "outbound_parallel": 1,
            }
        )
        cls.stock = cls.env.ref("stock.stock_location_stock")
        cls.unit = cls.env.ref("uom.product_uom_unit")
        Product = cls.env["product.product"]
        cls.steel = Product.create(
            {"name": "Steel", "default_code": "STL", "is_storable": True, "tracking": "lot"}
        )
        cls.screw = Product.create({"name": "Screw", "default_code": "SCR", "is_storable": True})
        cls.bracket = Product.create(
            {"name": "Bracket", "default_code": "BRK", "is_storable": True, "tracking": "lot"}
        )
        cls.bom = cls.env["mrp.bom"].create(
            {
                "product_tmpl_id": cls.bracket.product_tmpl_id.id,
                "product_qty": 1,
                "bom_line_ids": [
                    (0, 0, {"product_id": cls.steel.id, "product_qty": 2}),
                    (0, 0, {"product_id": cls.screw.id, "product_qty": 4}),
                ],
            }
        )
        cls.lot_s1 = cls.env["stock.lot"].create({"name": "S-1", "product_id": cls.steel.id})
        Quant = cls.env["stock.quant"]
        Quant._update_available_quantity(cls.steel, cls.stock, 100, lot_id=cls.lot_s1)
        Quant._update_available_quantity(cls.screw, cls.stock, 1000)
        cls.map_products({"FG-100": cls.bracket, "RM-STEEL": cls.steel, "RM-SCREW": cls.screw})

    @classmethod
    def map_products(cls, codes):
        Mapping = cls.env["mfg.integration.mapping"]
        mapping = Mapping.search(
            [("system_id", "=", cls.system.id), ("kind", "=", "product")]
        ) or Mapping.create({"system_id": cls.system.id, "kind": "product"})
        for code, product in codes.items():
            cls.env["mfg.integration.mapping.line"].create(
                {
                    "mapping_id": mapping.id,
                    "external_code": code,
                    "target_ref": f"product.product,{product.id}",
                }
            )

    def sap_order(self, number="1000123", qty=10):
        """An order carrying out SAP order ``number``, confirmed and reserved."""
        production = self.Production.create(
            {"product_id": self.bracket.id, "product_qty": qty, "bom_id": self.bom.id}
        )
        production.with_context(sap_inbound=True).write(
            {"sap_order_number": number, "sap_system_id": self.system.id, "sap_operation": "0020"}
        )
        production.action_confirm()
        production.action_assign()
        return production

    def produce(self, production, qty, lot_name, backorder=False):
        production.lot_producing_id = self.env["stock.lot"].create(
            {"name": lot_name, "product_id": production.product_id.id}
        )
        production.qty_producing = qty
        production._set_qty_producing()
        context = {
            "skip_backorder": True,
            "skip_redirection": True,
            "mo_ids_to_backorder": production.ids if backorder else [],
        }
        self.assertIs(production.with_context(**context).button_mark_done(), True)

    def outbound(self, number):
        return self.Event.search(
            [("direction", "=", "outbound"), ("subject", "=", number)], order="sequence"
        )
