from odoo import _, api, fields, models
from odoo.tools import float_compare, float_round

from odoo.addons.mfg_integration_base.services.errors import BusinessError

from ..services import order_messages, production_rules

# Fields whose change on a released order the MES must hear about (mes.order.changed).
MES_CHANGE_FIELDS = ("product_qty", "date_start", "date_finished")
# States in which an order of a chain can still take production events.
OPEN_STATES = ("confirmed", "progress", "to_close")


class MrpProduction(models.Model):
    # pylint: disable-next=consider-merging-classes-inherited  # demo_plant.py: demo helpers only
    _inherit = "mrp.production"

    mes_order_ref = fields.Char(
        string="MES Order Reference",
        copy=False,
        index=True,
        readonly=True,
        help="The order's name when it was released to the shop floor. MES events name the "
        "order by it; its backorders keep it, so they stay the same order for the MES.",
    )
    integration_event_count = fields.Integer(
        compute="_compute_integration_event_count", string="Integration Events"
    )

    def _compute_integration_event_count(self):
        Event = self.env["mfg.integration.event"]
        if not Event.has_access("read"):
            self.integration_event_count = 0
            return
        for production in self:
            production.integration_event_count = Event.search_count(
                production._integration_event_domain()
            )

    def write(self, vals):
        changed = self.browse()
        if not self.env.context.get("mes_no_change_event") and any(
            field in vals for field in MES_CHANGE_FIELDS
        ):
            changed = self.filtered(lambda p: p.mes_order_ref and p.state in OPEN_STATES)
            # dates count while no work started (then they follow the actual times)
            planned = {p.id: p.state == "confirmed" for p in changed}
            before = {p.id: p._mes_plan(planned[p.id]) for p in changed}
        result = super().write(vals)
        if changed:
            # an order closed by this write (marked done) is not re-planned
            changed.filtered(
                lambda p: p.state in OPEN_STATES and p._mes_plan(planned[p.id]) != before[p.id]
            )._mes_emit("mes.order.changed")
        return result

    def action_confirm(self):
        result = super().action_confirm()
        to_release = self.filtered(lambda p: p.state in OPEN_STATES and not p.mes_order_ref)
        for production in to_release:
            production.mes_order_ref = production.name
        to_release._mes_emit("mes.order.released")
        return result

    def _action_cancel(self):
        released = self.filtered(lambda p: p.mes_order_ref and p.state != "cancel")
        result = super()._action_cancel()
        cancelled = released.filtered(lambda p: p.state == "cancel")
        events = cancelled._mes_emit("mes.order.cancelled")
        cancelled._mes_settle_exceptions(events)
        return result

    def button_mark_done(self):
        if self.env.context.get("mes_no_change_event"):
            return super().button_mark_done()  # the MES's own completion
        producing = {p.id: p.qty_producing for p in self if p.mes_order_ref}
        result = super().button_mark_done()
        done = self.filtered(lambda p: p.id in producing and p.state == "done")
        for production in done:
            production._mes_settle_completion(producing[production.id])
        # a person closed the whole order (no backorder left open): the MES stops it
        closed = {
            p.mes_order_ref: p
            for p in done
            if not p._mes_chain().filtered(lambda other: other.state in OPEN_STATES)
        }
        self.browse([p.id for p in closed.values()])._mes_emit("mes.order.closed")
        return result

    def action_view_integration_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mfg_integration_base.action_mfg_integration_event"
        )
        action["domain"] = self._integration_event_domain()
        return action

    @api.model
    def _mes_open_order(self, reference):
        """The order of ``reference``'s chain that still takes production: the newest
        backorder after a partial completion. Unknown or closed: a planner's exception."""
        chain = self.search([("mes_order_ref", "=", reference)], order="id")
        if not chain:
            # an order confirmed before orders had a reference: it is known by its name
            chain = self.search(
                [("name", "=", reference), ("mes_order_ref", "=", False), ("state", "!=", "draft")]
            )
            chain.mes_order_ref = reference
        if not chain:
            raise BusinessError(
                "order_unknown",
                _("The MES reports on order %(ref)s, which Odoo never released", ref=reference),
                suggested_action=_(
                    "Check the order number on the MES terminal; if the order exists in Odoo "
                    "under another number, correct the event's data and retry, else discard it."
                ),
                key_fields={"order": reference},
            )
        open_orders = chain.filtered(lambda p: p.state in OPEN_STATES)
        if not open_orders:
            states = ", ".join(sorted(set(chain.mapped("state"))))
            raise BusinessError(
                "order_closed",
                _(
                    "Order %(ref)s is already closed in Odoo (%(states)s): the MES still "
                    "reports on it",
                    ref=reference,
                    states=states,
                ),
                suggested_action=_(
                    "If production really continued, reopen or re-plan the order in Odoo and "
                    "retry; otherwise discard the event and close the order on the MES."
                ),
                key_fields={"order": reference},
            )
        return open_orders[-1]

    def _mes_plan(self, with_dates):
        """What a change of the order is judged by: its quantity, and its dates if asked."""
        self.ensure_one()
        dates = (self.date_start, self.date_finished) if with_dates else ()
        return (self.product_qty, *dates)

    def _mes_chain(self):
        """Every order sharing this order's MES reference (the original and its backorders)."""
        self.ensure_one()
        return self.search([("mes_order_ref", "=", self.mes_order_ref)], order="id")

    def _mes_check_overproduction(self, quantity, reference):
        """A planner's exception when ``quantity`` more on ``production`` exceeds the order's
        planned quantity by more than the tolerance an admin set."""
        chain = self._mes_chain().filtered(lambda p: p.state != "cancel")
        planned = sum(p.product_qty for p in chain if p.state != "done") + sum(
            p.qty_produced for p in chain if p.state == "done"
        )
        produced = sum(p.qty_produced for p in chain if p.state == "done")
        tolerance = production_rules.tolerance_percent(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param(production_rules.OVERPRODUCTION_TOLERANCE_PARAM)
        )
        excess = production_rules.overproduction(
            planned, produced, quantity, tolerance, self.product_uom_id.rounding
        )
        if excess:
            uom = self.product_uom_id.name
            raise BusinessError(
                "over_production",
                _(
                    "Order %(ref)s would produce %(total)s %(uom)s of %(planned)s planned, "
                    "%(excess)s %(uom)s beyond the %(tolerance)s%% tolerance",
                    ref=reference,
                    total=produced + quantity,
                    planned=planned,
                    excess=float_round(excess, precision_rounding=self.product_uom_id.rounding),
                    uom=uom,
                    tolerance=tolerance,
                ),
                suggested_action=_(
                    "Check the count on the MES. If the extra quantity is real, raise the order's "
                    "quantity in Odoo (or the tolerance, system parameter %(param)s), then retry.",
                    param=production_rules.OVERPRODUCTION_TOLERANCE_PARAM,
                ),
                key_fields={"order": reference},
            )

    def _split_productions(self, amounts=False, cancel_remaining_qty=False, set_consumed_qty=False):
        # a split shares the order out among backorders: for the MES it stays one order
        return super(MrpProduction, self.with_context(mes_no_change_event=True))._split_productions(
            amounts, cancel_remaining_qty, set_consumed_qty
        )

    def _get_backorder_mo_vals(self):
        values = super()._get_backorder_mo_vals()
        values["mes_order_ref"] = self.mes_order_ref
        return values

    def _mes_emit(self, contract_code):
        """Tell the subscribed systems about these orders, in order per order reference."""
        Event = self.env["mfg.integration.event"].sudo()
        contract = self.env["mfg.integration.contract"]._active_outbound(contract_code)
        if not self or not contract:
            return Event.browse()
        builder = order_messages.BUILDERS[contract_code]
        items = [
            {"data": builder(production._mes_order_facts()), "subject": production.mes_order_ref}
            for production in self
        ]
        return Event._emit_many(contract_code, items)

    def _mes_order_facts(self):
        """What the MES needs to know of this order, as plain values for the message builders."""
        self.ensure_one()
        return {
            "ref": self.mes_order_ref,
            "name": self.name,
            "product_code": self.product_id.default_code or self.product_id.display_name,
            "product_name": self.product_id.name,
            "qty": self.product_qty,
            "uom": self.product_uom_id.name,
            "tracking": self.product_id.tracking,
            "date_start": self.date_start,
            "date_finished": self.date_finished,
            "state": self.state,
            "qty_produced": sum(p.qty_produced for p in self._mes_chain() if p.state == "done"),
            "closed_by": self.env.user.name,
            "components": [
                {
                    "product_code": move.product_id.default_code or move.product_id.display_name,
                    "qty": move.product_uom_qty,
                    "uom": move.product_uom.name,
                    "tracking": move.product_id.tracking,
                    **({"lots": lots} if (lots := _reserved_lots(move)) else {}),
                }
                for move in self.move_raw_ids.filtered(lambda m: m.state != "cancel")
            ],
            "operations": [
                {
                    "sequence": index * 10,
                    "workcenter": workorder.workcenter_id.code or workorder.workcenter_id.name,
                    "name": workorder.name,
                    "duration_expected_minutes": workorder.duration_expected,
                }
                for index, workorder in enumerate(self.workorder_ids, start=1)
            ],
        }

    def _mes_settle_exceptions(self, events):
        """Open exceptions of these orders' MES events are moot once the orders are closed."""
        for production in self:
            event = events.filtered(lambda e, p=production: e.subject == p.mes_order_ref)[:1]
            self.env["mfg.integration.exception"].sudo()._resolve_moot(
                production.mes_order_ref,
                _(
                    "Order %(ref)s was %(state)s in Odoo%(event)s: this problem no longer "
                    "needs an answer.",
                    ref=production.mes_order_ref,
                    state=dict(self._fields["state"].selection).get(production.state),
                    event=_(" (outbound event %(uid)s)", uid=event.event_uid) if event else "",
                ),
            )

    def _mes_settle_completion(self, quantity):
        """A person completed this order in Odoo: failed MES completions of the same quantity
        no longer need an answer."""
        self.ensure_one()
        uom = self.product_uom_id

        def same_completion(event):
            data = event.payload or {}
            return (
                event.event_type == "mes.production.completed"
                and data.get("uom") in (None, uom.name)
                and float_compare(data.get("qty", 0), quantity, precision_rounding=uom.rounding)
                == 0
            )

        self.env["mfg.integration.exception"].sudo()._resolve_moot(
            self.mes_order_ref,
            _(
                "Order %(name)s (%(ref)s) was completed in Odoo by %(user)s with %(qty)s %(uom)s, "
                "the quantity this event reports.",
                name=self.name,
                ref=self.mes_order_ref,
                user=self.env.user.name,
                qty=quantity,
                uom=uom.name,
            ),
            matching=same_completion,
        )

    def _integration_event_domain(self):
        # Events name the order by its MES reference (the subject), or resulted in it.
        return [
            "|",
            (
                "subject",
                "in",
                [ref for ref in self.mapped("mes_order_ref") if ref] + self.mapped("name"),
            ),
            "&",
            ("result_model", "=", "mrp.production"),
            ("result_res_id", "in", self.ids),
        ]


def _reserved_lots(move):
    """[{lot, qty}] Odoo reserved for a component move, in the move's unit (the material the
    MES stages at the line), in reservation order."""
    quantities = {}
    for line in move.move_line_ids.filtered("lot_id"):
        quantity = line.product_uom_id._compute_quantity(line.quantity, move.product_uom)
        quantities[line.lot_id.name] = quantities.get(line.lot_id.name, 0.0) + quantity
    return [
        {"lot": name, "qty": float_round(quantity, precision_rounding=move.product_uom.rounding)}
        for name, quantity in quantities.items()
    ]
