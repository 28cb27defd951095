from odoo import _, fields, models

from odoo.addons.mfg_integration_base.services.errors import BusinessError, MappingMissing

# Purchase order states a supplier's statement can still change.
OPEN_ORDER_STATES = ("purchase", "done")


class MfgIntegrationEvent(models.Model):
    _inherit = "mfg.integration.event"

    def _procurement_stamp(self):
        """When the supplier made this statement: the envelope's time, else its arrival."""
        self.ensure_one()
        return self.occurred_at or self.received_at or fields.Datetime.now()

    def _procurement_order(self, reference):
        """The purchase order the supplier names, open for its statements."""
        self.ensure_one()
        order = self.env["purchase.order"].search([("name", "=", reference)], limit=1)
        if not order:
            raise BusinessError(
                "order_unknown",
                _("Purchase order %(ref)s is unknown in Odoo", ref=reference),
                suggested_action=_(
                    "Check the order number with the supplier (it is the number printed on "
                    "the purchase order Odoo sent); correct the event's data, then retry."
                ),
                key_fields={"order": reference},
            )
        if order.state not in OPEN_ORDER_STATES:
            state = dict(order._fields["state"]._description_selection(self.env))[order.state]
            raise BusinessError(
                "order_not_open",
                _(
                    "Purchase order %(ref)s is %(state)s: a supplier's confirmation, notice "
                    "or rejection applies only to a confirmed order",
                    ref=reference,
                    state=state,
                ),
                suggested_action=_(
                    "Confirm the order in Odoo if it was meant to be sent, or tell the supplier "
                    "it is not valid; then retry or discard this event."
                ),
                key_fields={"order": reference},
            )
        self.env["mfg.procurement.shortage"]._check_order_owner(order, self)
        return order

    def _procurement_product(self, order, code):
        """The product the supplier's code names: the system's product mapping, else the
        vendor's product code on the order's supplier, else Odoo's internal reference."""
        self.ensure_one()
        try:
            return self._map("product", code)
        except MappingMissing as missing:
            supplier = order.partner_id.commercial_partner_id
            infos = self.env["product.supplierinfo"].search(
                [
                    ("partner_id", "child_of", supplier.id),
                    ("product_code", "=", code),
                ]
            )
            products = infos.mapped(
                lambda info: info.product_id or info.product_tmpl_id.product_variant_ids
            )
            ordered = order.order_line.product_id
            if len(products & ordered) == 1:
                return products & ordered
            if len(products) == 1:
                return products
            by_reference = ordered.filtered(lambda product: product.default_code == code)
            if len(by_reference) == 1:
                return by_reference
            raise missing from None

    def _procurement_line(self, order, line_data):
        """The order line a supplier's line is about: its product, and its position on the
        order when the order holds the product more than once."""
        self.ensure_one()
        product = self._procurement_product(order, line_data["product_code"])
        lines = order.order_line.filtered(lambda line: not line.display_type)
        if line_data.get("line"):
            position = line_data["line"]
            line = lines[position - 1] if position <= len(lines) else lines.browse()
            if line and line.product_id == product:
                return line
            raise BusinessError(
                "line_mismatch",
                _(
                    "Line %(position)s of purchase order %(ref)s is not %(product)s",
                    position=position,
                    ref=order.name,
                    product=product.display_name,
                ),
                suggested_action=_(
                    "Check the line numbers with the supplier against the order in Odoo; "
                    "correct the event's data, then retry."
                ),
                key_fields={"order": order.name, "line": position},
            )
        matching = lines.filtered(lambda line: line.product_id == product)
        if len(matching) == 1:
            return matching
        if not matching:
            raise BusinessError(
                "product_not_ordered",
                _(
                    "Purchase order %(ref)s has no line for %(product)s (supplier code "
                    "%(code)s)",
                    ref=order.name,
                    product=product.display_name,
                    code=line_data["product_code"],
                ),
                suggested_action=_(
                    "Check the supplier's code mapping and the order's lines; add the line to "
                    "the order or correct the mapping, then retry."
                ),
                key_fields={"order": order.name, "product": line_data["product_code"]},
            )
        raise BusinessError(
            "line_ambiguous",
            _(
                "Purchase order %(ref)s holds %(product)s on %(count)s lines and the supplier "
                "did not say which",
                ref=order.name,
                product=product.display_name,
                count=len(matching),
            ),
            suggested_action=_(
                "Ask the supplier to send the line position ('line'), or edit the event's "
                "data to add it, then retry."
            ),
            key_fields={"order": order.name, "product": line_data["product_code"]},
        )
