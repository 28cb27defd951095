from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..services import hold_messages

OUTBOUND_NCR_CREATED = "quality.ncr.created"


class MfgQualityNcr(models.Model):
    _name = "mfg.quality.ncr"
    _description = "Non-Conformance Report"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"

    name = fields.Char(required=True, readonly=True, copy=False, default=lambda self: _("New"))
    title = fields.Char(required=True, tracking=True)
    state = fields.Selection(
        [
            ("draft", "Reported"),
            ("to_approve", "Disposition to Approve"),
            ("done", "Closed"),
            ("cancel", "Cancelled"),
        ],
        default="draft",
        required=True,
        index=True,
        tracking=True,
        group_expand=True,
        readonly=True,
    )
    source = fields.Selection(
        [
            ("inspection", "Inspection"),
            ("production", "Production"),
            ("supplier", "Supplier"),
            ("customer", "Customer Complaint"),
            ("internal", "Internal Audit"),
            ("external", "External Quality System"),
        ],
        required=True,
        default="inspection",
        tracking=True,
    )
    description = fields.Html(required=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    product_id = fields.Many2one("product.product", tracking=True, index=True)
    lot_ids = fields.Many2many(
        "stock.lot",
        "mfg_quality_ncr_lot_rel",
        "ncr_id",
        "lot_id",
        string="Lots Affected",
        domain="[('product_id', '=?', product_id)]",
    )
    partner_id = fields.Many2one("res.partner", string="Supplier / Customer", tracking=True)
    production_id = fields.Many2one("mrp.production", string="Manufacturing Order")
    check_ids = fields.Many2many("mfg.quality.check", string="Failed Checks")
    hold_ids = fields.One2many("mfg.quality.hold", "ncr_id", string="Holds")
    disposition = fields.Selection(
        [
            ("scrap", "Scrap"),
            ("rework", "Rework"),
            ("use_as_is", "Use As Is"),
            ("return", "Return to Supplier"),
        ],
        tracking=True,
    )
    disposition_note = fields.Text(tracking=True)
    reported_by_id = fields.Many2one(
        "res.users", string="Reported By", default=lambda self: self.env.user, readonly=True
    )
    submitted_by_id = fields.Many2one("res.users", string="Proposed By", readonly=True)
    approved_by_id = fields.Many2one("res.users", string="Approved By", readonly=True)
    approved_at = fields.Datetime(readonly=True)
    scrap_ids = fields.Many2many("stock.scrap", compute="_compute_scrap_ids", string="Scraps")
    scrap_count = fields.Integer(compute="_compute_scrap_ids")
    color = fields.Integer(compute="_compute_color")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", _("New")) == _("New"):
                vals["name"] = self.env["ir.sequence"].next_by_code("mfg.quality.ncr") or "/"
        ncrs = super().create(vals_list)
        for ncr in ncrs:
            ncr._emit_created()
        return ncrs

    def _compute_scrap_ids(self):
        Scrap = self.env["stock.scrap"]
        for ncr in self:
            scraps = Scrap.search([("origin", "=", ncr.name)]) if ncr.id else Scrap
            ncr.scrap_ids = scraps
            ncr.scrap_count = len(scraps)

    @api.depends("state", "disposition")
    def _compute_color(self):
        colors = {"draft": 2, "to_approve": 3, "done": 10, "cancel": 1}
        for ncr in self:
            ncr.color = colors.get(ncr.state, 0)

    # -- workflow -----------------------------------------------------------------------

    def action_submit(self):
        for ncr in self:
            if ncr.state != "draft":
                raise UserError(_("%s is not in the Reported stage.", ncr.name))
            if not ncr.disposition:
                raise UserError(_("Choose a disposition for %s before proposing it.", ncr.name))
            if ncr.disposition != "use_as_is" and not ncr.lot_ids:
                raise UserError(
                    _("Name the lots affected by %s: the disposition acts on them.", ncr.name)
                )
            ncr.write({"state": "to_approve", "submitted_by_id": self.env.uid})
            ncr.message_post(
                body=_(
                    "Disposition proposed: %(disposition)s. A second person approves it.",
                    disposition=ncr._disposition_label(),
                )
            )
        return True

    def action_approve(self):
        """A second person approves the disposition, which is then applied to every lot."""
        for ncr in self:
            if ncr.state != "to_approve":
                raise UserError(_("%s has no disposition waiting for approval.", ncr.name))
            if ncr.submitted_by_id == self.env.user:
                raise UserError(
                    _(
                        "%(ncr)s: the person who proposed the disposition cannot approve it; "
                        "a second person must.",
                        ncr=ncr.name,
                    )
                )
            ncr.write(
                {
                    "state": "done",
                    "approved_by_id": self.env.uid,
                    "approved_at": fields.Datetime.now(),
                }
            )
            ncr._apply_disposition()
        return True

    def action_reset(self):
        self.filtered(lambda n: n.state in ("to_approve", "cancel")).write(
            {"state": "draft", "submitted_by_id": False}
        )
        return True

    def action_cancel(self):
        for ncr in self:
            if ncr.state == "done":
                raise UserError(_("%s is closed: its disposition was applied.", ncr.name))
        self.write({"state": "cancel"})
        return True

    def action_hold_lots(self):
        """Put every affected lot on hold for this NCR."""
        for ncr in self:
            for lot in ncr.lot_ids:
                self.env["mfg.quality.hold"]._place(
                    lot, _("%(ncr)s: %(title)s", ncr=ncr.name, title=ncr.title), ncr=ncr
                )
        return True

    def _disposition_label(self):
        return dict(self._fields["disposition"].selection).get(self.disposition, "")

    def _apply_disposition(self):
        """Scrap, rework, use as is or return each lot. Scrap and return act through the
        lot's hold (placed first if none is in force), so every step is in its chatter."""
        self.ensure_one()
        Hold = self.env["mfg.quality.hold"]
        note = _("%(ncr)s approved by %(user)s", ncr=self.name, user=self.env.user.name)
        for lot in self.lot_ids:
            hold = Hold.search([("lot_id", "=", lot.id), ("state", "=", "held")], limit=1)
            if not hold and self.disposition in ("scrap", "return"):
                hold = Hold._place(
                    lot, _("%(ncr)s: %(title)s", ncr=self.name, title=self.title), ncr=self
                )
            if hold:
                if not hold.ncr_id:
                    hold.ncr_id = self
                hold._release(self.disposition, note=note)
        self.message_post(
            body=_(
                "Disposition %(disposition)s applied to %(lots)s.",
                disposition=self._disposition_label(),
                lots=", ".join(self.lot_ids.mapped("name")) or _("no lot"),
            )
        )

    def _emit_created(self):
        self.ensure_one()
        contract = self.env["mfg.integration.contract"]._active_outbound(OUTBOUND_NCR_CREATED)
        if not contract:
            return
        product = self.product_id or self.lot_ids.product_id[:1]
        facts = {
            "ncr": self.name,
            "source": self.source,
            "description": self.title,
            "product_code": (product.default_code or product.display_name) if product else None,
            "lots": self.lot_ids.mapped("name"),
            "reported_by": self.reported_by_id.name,
            "created_at": self.create_date,
        }
        data = hold_messages.BUILDERS[OUTBOUND_NCR_CREATED](facts)
        self.env["mfg.integration.event"].sudo()._emit_many(
            OUTBOUND_NCR_CREATED, [{"data": data, "subject": self.name}]
        )

    def action_view_scraps(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("stock.action_stock_scrap")
        action["domain"] = [("id", "in", self.scrap_ids.ids)]
        return action
