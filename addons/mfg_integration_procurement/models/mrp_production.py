from odoo import _, api, fields, models


class MrpProduction(models.Model):
    _inherit = "mrp.production"

    shortage_ids = fields.Many2many(
        "mfg.procurement.shortage",
        "mfg_procurement_shortage_production_rel",
        "production_id",
        "shortage_id",
        string="Component Shortages",
        readonly=True,
        copy=False,
    )
    open_shortage_count = fields.Integer(compute="_compute_open_shortage_count")
    shortage_summary = fields.Text(compute="_compute_open_shortage_count")

    @api.depends("shortage_ids.state", "shortage_ids.gap_qty")
    def _compute_open_shortage_count(self):
        for production in self:
            shortages = production.shortage_ids.filtered(lambda s: s.state == "open")
            production.open_shortage_count = len(shortages)
            production.shortage_summary = "\n".join(
                _(
                    "%(product)s: %(qty)s %(unit)s missing from %(order)s (%(reason)s)",
                    product=shortage.product_id.display_name,
                    qty=shortage.gap_qty,
                    unit=shortage.product_uom_id.name,
                    order=shortage.purchase_id.name,
                    reason=dict(shortage._fields["reason"].selection)[shortage.reason],
                )
                for shortage in shortages
            )

    def action_confirm(self):
        result = super().action_confirm()
        self._procurement_recheck_supply()
        return result

    def action_cancel(self):
        result = super().action_cancel()
        self._procurement_recheck_supply()
        return result

    def write(self, vals):
        result = super().write(vals)
        if "date_start" in vals:
            self.filtered(
                lambda p: p.state in ("confirmed", "progress")
            )._procurement_recheck_supply()
        return result

    def _procurement_recheck_supply(self):
        """The open purchase lines of these orders' components: a new, moved or cancelled
        order may open or close their shortages."""
        products = self.move_raw_ids.product_id
        if not products:
            return
        lines = self.env["purchase.order.line"].search(
            [
                ("product_id", "in", products.ids),
                ("order_id.state", "=", "purchase"),
                ("move_ids.state", "not in", ("done", "cancel")),
            ]
        )
        lines |= self.shortage_ids.filtered(lambda s: s.state == "open").purchase_line_id
        lines._procurement_check_shortages()

    def action_view_shortages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_procurement.action_mfg_procurement_shortage"
        )
        action["domain"] = [("production_ids", "in", self.ids)]
        action["context"] = {"search_default_open": 1}
        return action
