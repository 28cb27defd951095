"""The logistics demo: called only by the addon's demo data."""

import logging
import uuid

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

DEMO_ORDER_ID = "CRM-SO-1001"


class MfgIntegrationSystem(models.Model):
    # pylint: disable-next=consider-merging-classes-inherited  # demo helpers only
    _inherit = "mfg.integration.system"

    @api.model
    def _demo_logistics_setup(self, wms_id, crm_id, product_codes):
        """API keys for the WMS and the CRM, product mappings for the demo products, and one
        CRM order for them posted through the inbox. Returns the ingest answers."""
        wms, crm = self.browse(wms_id), self.browse(crm_id)
        for system in wms | crm:
            if not system.current_api_key_id:
                system._generate_api_key(f"{system.code} demo")
        products = self.env["product.product"].search([("default_code", "in", product_codes)])
        if not products:
            _logger.info("Logistics demo: no product %s, no demo CRM order", product_codes)
            return []
        Mapping = self.env["mfg.integration.mapping"]
        for system in wms | crm:
            mapping = Mapping.search(
                [("system_id", "=", system.id), ("kind", "=", "product")]
            ) or Mapping.create({"system_id": system.id, "kind": "product"})
            known = set(mapping.line_ids.mapped("external_code"))
            mapping.write(
                {
                    "line_ids": [
                        (0, 0, {"external_code": p.default_code, "target_ref": f"{p._name},{p.id}"})
                        for p in products
                        if p.default_code not in known
                    ]
                }
            )
        data = {
            "order_id": DEMO_ORDER_ID,
            "customer_code": "CUST-0042",
            "customer_ref": "PO 4711",
            "lines": [
                {
                    "line_id": str(index),
                    "product_code": product.default_code,
                    "qty": 5 * index,
                    "uom": "EA",
                }
                for index, product in enumerate(products.sorted("default_code"), start=1)
            ],
        }
        envelope = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "crm/demo",
            "type": "crm.order.placed",
            "time": fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "subject": DEMO_ORDER_ID,
            "data": data,
        }
        return self.env["mfg.integration.event"]._ingest(crm, [envelope])
