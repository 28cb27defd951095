import json

from odoo import fields, models

from ..services.logistics_messages import stamp, without_empty


class SaleOrder(models.Model):
    _inherit = "sale.order"

    crm_system_id = fields.Many2one(
        "mfg.integration.system",
        string="CRM",
        copy=False,
        readonly=True,
        index=True,
        help="The CRM this order came from: it receives the acknowledgment and delivery status.",
    )
    crm_order_ref = fields.Char(
        string="CRM Order",
        copy=False,
        readonly=True,
        index=True,
        help="The CRM's id of the order: the order is created once per id.",
    )
    crm_data_hash = fields.Char(
        copy=False, readonly=True, help="Digest of the CRM data last applied to this order."
    )
    crm_acknowledged = fields.Text(
        string="Last Acknowledgment",
        copy=False,
        readonly=True,
        help="The confirmed quantities and promised dates last sent to the CRM (JSON).",
    )

    _sql_constraints = [
        (
            "crm_order_unique",
            "unique(crm_system_id, crm_order_ref)",
            "A CRM order becomes one sales order.",
        )
    ]

    def action_confirm(self):
        result = super().action_confirm()
        self._crm_acknowledge()
        return result

    def _action_cancel(self):
        result = super()._action_cancel()
        self._crm_acknowledge()
        return result

    def _crm_acknowledge(self):
        """Tell each order's CRM the confirmed quantities and promised dates, when they
        differ from what it was last told (a confirmation, a moved promise, a cancellation)."""
        Event = self.env["mfg.integration.event"]
        for order in self.filtered(
            lambda o: o.crm_order_ref and o.state in ("sale", "cancel") and o.crm_system_id
        ):
            data = order._crm_acknowledgment()
            signature = json.dumps(data, sort_keys=True)
            if signature == order.crm_acknowledged:
                continue
            events = Event._logistics_emit(
                "crm.order.acknowledged",
                [{"data": data, "subject": order.crm_order_ref}],
                systems=order.crm_system_id,
            )
            if events:
                order.sudo().crm_acknowledged = signature

    def _crm_acknowledgment(self):
        """crm.order.acknowledged data: per CRM line, the confirmed quantity and its promise."""
        self.ensure_one()
        Event = self.env["mfg.integration.event"]
        cancelled = self.state == "cancel"
        lines = []
        for line in self.order_line.filtered(
            lambda line: line.product_id and not line.display_type
        ):
            promised = None if cancelled else line._crm_promised_date()
            lines.append(
                without_empty(
                    {
                        "line_id": line.crm_line_ref or str(line.id),
                        "product_code": Event._logistics_code(
                            self.crm_system_id,
                            "product",
                            line.product_id,
                            line.product_id.default_code or line.product_id.display_name,
                        ),
                        "qty_ordered": line.product_uom_qty,
                        "qty_confirmed": 0.0 if cancelled else line.product_uom_qty,
                        "uom": Event._logistics_code(
                            self.crm_system_id, "uom", line.product_uom, line.product_uom.name
                        ),
                        "promised_date": stamp(promised),
                    }
                )
            )
        promised = [line["promised_date"] for line in lines if line.get("promised_date")]
        return without_empty(
            {
                "order_id": self.crm_order_ref,
                "sale_ref": self.name,
                "state": "cancelled" if cancelled else "confirmed",
                "promised_date": max(promised) if promised else None,
                "lines": lines,
            }
        )
