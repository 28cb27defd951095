from odoo import _, api, fields, models


class PurchaseOrder(models.Model):
    # pylint: disable-next=consider-merging-classes-inherited  # demo_procurement.py: demo only
    _inherit = "purchase.order"

    has_supplier_deviation = fields.Boolean(
        string="Supplier Deviates",
        compute="_compute_supplier_deviation",
        search="_search_has_supplier_deviation",
    )
    shortage_count = fields.Integer(compute="_compute_shortage_count")

    @api.depends("order_line.has_supplier_deviation")
    def _compute_supplier_deviation(self):
        for order in self:
            order.has_supplier_deviation = any(order.order_line.mapped("has_supplier_deviation"))

    def _search_has_supplier_deviation(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(_("Unsupported search on supplier deviations."))
        positive = (operator == "=") == value
        return (
            [("order_line.has_supplier_deviation", "=", True)]
            if positive
            else [("order_line.has_supplier_deviation", "!=", True)]
        )

    def _compute_shortage_count(self):
        groups = self.env["mfg.procurement.shortage"]._read_group(
            [("purchase_id", "in", self.ids), ("state", "=", "open")], ["purchase_id"], ["__count"]
        )
        counts = {order.id: count for order, count in groups}
        for order in self:
            order.shortage_count = counts.get(order.id, 0)

    def action_view_shortages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_procurement.action_mfg_procurement_shortage"
        )
        action["domain"] = [("purchase_id", "=", self.id)]
        action["context"] = {"search_default_open": 1}
        return action

    def _procurement_notice_receipt_moves(self, lines):
        """{purchase line: its first move still to receive}, on the order's open receipts."""
        moves = {}
        for line in lines:
            pending = line.move_ids.filtered(
                lambda m: m.state not in ("done", "cancel")
                and m.picking_id.picking_type_code == "incoming"
            ).sorted("id")
            if pending:
                moves[line] = pending[0]
        return moves

    def _procurement_ask_buyer(self, lines, reason, event):
        """Tell the buyer in the order's chatter and a to-do: the goods need a new source."""
        self.ensure_one()
        products = ", ".join(lines.product_id.mapped("display_name"))
        self.message_post(
            body=_(
                "%(system)s: the supplier rejected %(products)s (%(reason)s).",
                system=event.system_id.name,
                products=products,
                reason=reason,
            )
        )
        summary = _("Supplier rejected: re-source")
        if not self.activity_ids.filtered(lambda a: a.summary == summary):
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=summary,
                note=_("%(products)s: %(reason)s", products=products, reason=reason),
                user_id=(self.user_id or self.env.user).id,
            )
