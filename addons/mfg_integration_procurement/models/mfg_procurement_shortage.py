from odoo import _, api, fields, models
from odoo.tools import float_compare

from odoo.addons.mfg_integration_base.services.errors import BusinessError

REASONS = [("late", "Arrives Late"), ("short", "Short Supply"), ("rejected", "Rejected")]
DETECTED = "procurement.shortage.detected"
RESOLVED = "procurement.shortage.resolved"


class MfgProcurementShortage(models.Model):
    _name = "mfg.procurement.shortage"
    _description = "Component Shortage"
    _inherit = ["mail.thread"]
    _order = "state desc, needed_date, id desc"

    name = fields.Char(required=True, readonly=True, copy=False, default="/")
    state = fields.Selection(
        [("open", "Open"), ("closed", "Closed")],
        required=True,
        default="open",
        readonly=True,
        index=True,
        tracking=True,
    )
    reason = fields.Selection(REASONS, required=True, readonly=True, tracking=True)
    purchase_line_id = fields.Many2one(
        "purchase.order.line", required=True, readonly=True, index=True, ondelete="cascade"
    )
    purchase_id = fields.Many2one(
        related="purchase_line_id.order_id", store=True, index=True, string="Purchase Order"
    )
    partner_id = fields.Many2one(related="purchase_id.partner_id", store=True, string="Supplier")
    product_id = fields.Many2one(related="purchase_line_id.product_id", store=True, index=True)
    product_uom_id = fields.Many2one(related="product_id.uom_id", string="Unit")
    production_ids = fields.Many2many(
        "mrp.production",
        "mfg_procurement_shortage_production_rel",
        "shortage_id",
        "production_id",
        string="Affected Orders",
        readonly=True,
    )
    production_count = fields.Integer(compute="_compute_production_count")
    gap_qty = fields.Float(
        string="Missing Qty", digits="Product Unit of Measure", readonly=True, tracking=True
    )
    expected_date = fields.Datetime(string="Expected Arrival", readonly=True, tracking=True)
    needed_date = fields.Datetime(
        string="Needed By", readonly=True, help="The start of the first affected order."
    )
    gap_days = fields.Float(string="Days Late", readonly=True, digits=(16, 1))
    opened_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    closed_at = fields.Datetime(readonly=True)
    company_id = fields.Many2one(related="purchase_id.company_id", store=True)

    @api.depends("production_ids")
    def _compute_production_count(self):
        for shortage in self:
            shortage.production_count = len(shortage.production_ids)

    @api.model_create_multi
    def create(self, vals_list):
        for values in vals_list:
            if values.get("name", "/") == "/":
                values["name"] = self.env["ir.sequence"].next_by_code(self._name) or "/"
        return super().create(vals_list)

    @api.model
    def _sync_line(self, line, gap, shortage):
        """Make ``line``'s open shortage say ``gap`` (None: close it), and tell the
        subscribed systems when it opens, changes or closes."""
        if gap is None:
            if shortage:
                shortage.write({"state": "closed", "closed_at": fields.Datetime.now()})
                shortage.message_post(body=_("Supply recovered: the shortage is closed."))
                shortage._emit(RESOLVED)
            return shortage
        values = {
            "reason": gap.reason,
            "gap_qty": gap.qty,
            "expected_date": gap.expected_date,
            "needed_date": gap.needed_date,
            "gap_days": gap.days,
            "production_ids": [(6, 0, gap.production_ids)],
        }
        if not shortage:
            shortage = self.create(dict(values, purchase_line_id=line.id))
            shortage._emit(DETECTED)
            return shortage
        if shortage._differs(values):
            shortage.write(values)
            shortage._emit(DETECTED)
        return shortage

    def _differs(self, values):
        self.ensure_one()
        rounding = self.product_id.uom_id.rounding
        return (
            self.reason != values["reason"]
            or float_compare(self.gap_qty, values["gap_qty"], precision_rounding=rounding)
            or self.expected_date != values["expected_date"]
            or self.needed_date != values["needed_date"]
            or sorted(self.production_ids.ids) != values["production_ids"][0][2]
        )

    def _emit(self, contract_code):
        contract = self.env["mfg.integration.contract"]._active_outbound(contract_code)
        if not contract:
            return self.env["mfg.integration.event"]
        items = [
            {"data": shortage._message(contract_code), "subject": shortage.name}
            for shortage in self
        ]
        return self.env["mfg.integration.event"].sudo()._emit_many(contract_code, items)

    def _message(self, contract_code):
        self.ensure_one()
        product = self.product_id
        data = {
            "shortage": self.name,
            "po_ref": self.purchase_id.name,
            "product_code": product.default_code or product.display_name,
            "at": _stamp(fields.Datetime.now()),
        }
        if contract_code == RESOLVED:
            return data
        lines = self.purchase_id.order_line.filtered(lambda line: not line.display_type)
        data.update(
            {
                "po_line": lines.ids.index(self.purchase_line_id.id) + 1,
                "supplier": self.partner_id.display_name or "",
                "reason": self.reason,
                "gap_qty": self.gap_qty,
                "uom": product.uom_id.name,
                "expected_date": _stamp(self.expected_date),
                "needed_date": _stamp(self.needed_date),
                "gap_days": self.gap_days,
                "productions": self.production_ids.mapped("name"),
            }
        )
        return data

    @api.model
    def _check_order_owner(self, order, event):
        """Refuse a supplier's statement about a purchase order another system owns (its
        system of record then takes the supplier's messages)."""
        owner = self.env["mfg.integration.record.kind"].sudo()._owner("purchase_order")
        if owner and owner != event.system_id:
            raise BusinessError(
                "sor_conflict",
                _(
                    "Purchase orders are owned by %(owner)s: %(system)s cannot change "
                    "purchase order %(ref)s in Odoo",
                    owner=owner.name,
                    system=event.system_id.name,
                    ref=order.name,
                ),
                suggested_action=_(
                    "Send the supplier's messages to %(owner)s, or change the system of "
                    "record of purchase orders; then retry or discard this event.",
                    owner=owner.name,
                ),
                key_fields={"order": order.name, "owner": owner.code},
            )

    def action_view_productions(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Affected Orders"),
            "res_model": "mrp.production",
            "view_mode": "list,form",
            "domain": [("id", "in", self.production_ids.ids)],
        }

    def action_recheck(self):
        self.purchase_line_id._procurement_check_shortages()
        return True


def _stamp(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None
