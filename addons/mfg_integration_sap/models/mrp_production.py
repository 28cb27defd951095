from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_is_zero

from odoo.addons.mfg_integration_base.outbox.emit import emit_many

from ..services import sap_messages, sap_values
from ..services.odata.errors import ODataError

# Fields of an order SAP owns that only SAP may change (its pulls write them).
SAP_OWNED_FIELDS = ("product_id", "product_qty", "product_uom_id", "bom_id")
OPEN_STATES = ("confirmed", "progress", "to_close")


class MrpProduction(models.Model):
    _inherit = "mrp.production"

    sap_order_number = fields.Char(
        string="SAP Order",
        copy=False,
        index=True,
        readonly=True,
        help="The SAP production order (ManufacturingOrder) this order carries out. Its "
        "backorders keep it; confirmations and goods movements are posted against it.",
    )
    sap_system_id = fields.Many2one(
        "mfg.integration.system", string="SAP System", copy=False, readonly=True, index=True
    )
    sap_operation = fields.Char(
        string="SAP Operation",
        copy=False,
        readonly=True,
        help="The SAP order's operation on which Odoo confirms the order's yield (its last).",
    )
    sap_confirmed_qty = fields.Float(
        string="Confirmed in SAP",
        digits="Product Unit of Measure",
        readonly=True,
        copy=False,
        help="SAP's confirmed yield of the whole SAP order (confirmations neither reversed "
        "nor reversals), as of the last check.",
    )
    sap_produced_qty = fields.Float(
        string="Produced in Odoo (whole order)",
        digits="Product Unit of Measure",
        readonly=True,
        copy=False,
    )
    mes_reported_qty = fields.Float(
        string="Reported by the MES",
        digits="Product Unit of Measure",
        readonly=True,
        copy=False,
        help="Sum of the MES's completion events for the order, as of the last check.",
    )
    sap_checked_at = fields.Datetime(string="Compared With SAP", readonly=True, copy=False)
    sap_confirmation_state = fields.Selection(
        [("matched", "Matched"), ("mismatch", "Differs")],
        string="SAP Confirmation",
        readonly=True,
        copy=False,
    )

    @api.model
    def _search_display_name(self, operator, value):
        domain = super()._search_display_name(operator, value)
        if value and operator in ("ilike", "=", "=ilike"):
            domain = ["|", ("sap_order_number", operator, value), *domain]
        return domain

    def write(self, vals):
        if not self.env.context.get("sap_inbound") and set(SAP_OWNED_FIELDS) & set(vals):
            self._sap_check_editable(vals)
        return super().write(vals)

    def _sap_check_editable(self, vals):
        """An order SAP owns changes in SAP: a person editing it in Odoo is told so."""
        owned = self.filtered(lambda p: p.sap_order_number and p.state != "draft")
        if not owned:
            return
        Kind = self.env["mfg.integration.record.kind"]
        owner = Kind._owner("manufacturing_order")
        for production in owned:
            if not owner or owner != production.sap_system_id:
                continue
            changed = [
                production._fields[name].string
                for name in SAP_OWNED_FIELDS
                if name in vals and production._sap_differs(name, vals[name])
            ]
            if changed:
                raise UserError(
                    _(
                        "%(order)s carries out SAP order %(sap)s, and %(system)s is the system "
                        "of record for manufacturing orders: change %(fields)s in SAP, the next "
                        "pull brings it here.",
                        order=production.name,
                        sap=production.sap_order_number,
                        system=owner.name,
                        fields=", ".join(changed),
                    )
                )

    def _sap_differs(self, name, value):
        current = self[name]
        if isinstance(current, models.BaseModel):
            return current.id != (value or False)
        if name == "product_qty":
            return not float_is_zero(
                current - float(value or 0), precision_rounding=self.product_uom_id.rounding
            )
        return current != value

    def _get_backorder_mo_vals(self):
        values = super()._get_backorder_mo_vals()
        values["sap_order_number"] = self.sap_order_number
        values["sap_system_id"] = self.sap_system_id.id
        # the backorder's completion is confirmed on the same SAP operation
        values["sap_operation"] = self.sap_operation
        return values

    def _split_productions(self, amounts=False, cancel_remaining_qty=False, set_consumed_qty=False):
        # a split shares SAP's order out among backorders: not a person's edit of it
        return super(MrpProduction, self.with_context(sap_inbound=True))._split_productions(
            amounts, cancel_remaining_qty, set_consumed_qty
        )

    def button_mark_done(self):
        candidates = self.filtered(lambda p: p.sap_order_number and p.state != "done")
        result = super().button_mark_done()
        done = candidates.filtered(lambda p: p.state == "done")
        if done:
            done._sap_emit_completion()
        return result

    def _sap_chain(self):
        self.ensure_one()
        return self.search(
            [
                ("sap_order_number", "=", self.sap_order_number),
                ("sap_system_id", "=", self.sap_system_id.id),
            ],
            order="id",
        )

    def _sap_emit_completion(self):
        """Post what these completed orders did to SAP through the outbox: a confirmation
        of the produced quantity (final when nothing of the order is left open), the 261
        issues of the consumed components and the 101 receipt of the product, per batch."""
        by_system = defaultdict(lambda: self.browse())
        for production in self:
            by_system[production.sap_system_id] |= production
        Contract = self.env["mfg.integration.contract"].sudo()
        for target, productions in by_system.items():
            system = target.sudo()
            if not system.active or system.outbound_adapter != "sap_odata":
                continue
            confirmations, movements = [], []
            for production in productions:
                facts = production._sap_completion_facts(system)
                subject = production.sap_order_number
                confirmations.append({"data": facts["confirmation"], "subject": subject})
                movements += [{"data": data, "subject": subject} for data in facts["movements"]]
            for code, items in (
                (sap_messages.CONFIRMATION_CONTRACT, confirmations),
                (sap_messages.GOODS_MOVEMENT_CONTRACT, movements),
            ):
                contract = Contract._outbound_version(code)
                if items and system._allows(contract):
                    emit_many(self.env, code, items, systems=system)

    def _sap_completion_facts(self, system):
        """{confirmation: data, movements: [data]} of this completed order."""
        self.ensure_one()
        Mapping = self.env["mfg.integration.mapping"].sudo()
        plant = system.sap_plant or ""
        today = fields.Date.context_today(self).isoformat()
        still_open = self._sap_chain().filtered(lambda p: p.state in OPEN_STATES)
        scrapped = sum(
            scrap.scrap_qty
            for scrap in self.scrap_ids
            if scrap.state == "done" and scrap.product_id == self.product_id
        )
        confirmation = {
            "OrderID": self.sap_order_number,
            "ConfirmationYieldQuantity": sap_values.quantity(self.qty_produced),
            "ConfirmationScrapQuantity": sap_values.quantity(scrapped),
            "ConfirmationUnit": sap_values.unit_code(Mapping, system, self.product_uom_id),
            "FinalConfirmationType": "" if still_open else "X",
            "PostingDate": today,
        }
        if self.sap_operation:
            confirmation["OrderOperation"] = self.sap_operation
        issues = self._sap_movement_items(
            system, self.move_raw_ids, sap_messages.ISSUE_FOR_ORDER[1], plant
        )
        receipts = self._sap_movement_items(
            system,
            self.move_finished_ids.filtered(lambda m: m.product_id == self.product_id),
            sap_messages.RECEIPT_FOR_ORDER[1],
            plant,
        )
        movements = []
        for (code, _type), items in (
            (sap_messages.ISSUE_FOR_ORDER, issues),
            (sap_messages.RECEIPT_FOR_ORDER, receipts),
        ):
            if items:
                movements.append({"GoodsMovementCode": code, "PostingDate": today, "items": items})
        return {"confirmation": confirmation, "movements": movements}

    def _sap_movement_items(self, system, moves, movement_type, plant):
        """Goods movement items of the done lines of ``moves``: one per product, location
        and lot, in the product's unit."""
        Mapping = self.env["mfg.integration.mapping"].sudo()
        totals = defaultdict(float)
        for line in moves.filtered(lambda m: m.state == "done").move_line_ids:
            location = line.location_id if movement_type == "261" else line.location_dest_id
            quantity = line.product_uom_id._compute_quantity(line.quantity, line.product_id.uom_id)
            totals[(line.product_id, location, line.lot_id)] += quantity
        items = []
        for (product, location, lot), quantity in totals.items():
            if float_is_zero(quantity, precision_rounding=product.uom_id.rounding):
                continue
            item = {
                "Material": sap_values.material_code(Mapping, system, product),
                "Plant": plant,
                "StorageLocation": sap_values.storage_location(
                    Mapping, system, location, issue=movement_type == "261"
                ),
                "GoodsMovementType": movement_type,
                "QuantityInEntryUnit": sap_values.quantity(quantity),
                "EntryUnit": sap_values.unit_code(Mapping, system, product.uom_id),
                "ManufacturingOrder": self.sap_order_number,
            }
            if lot:
                item["Batch"] = sap_values.batch_code(Mapping, system, lot)
            items.append(item)
        return items

    # three-way check: the MES's word, Odoo's completions and SAP's confirmations

    def _sap_confirmations(self):
        """SAP's confirmations of this order that count (neither reversed nor reversals)."""
        self.ensure_one()
        client = self.sap_system_id._sap_settings().client(sap_messages.CONFIRMATION_SERVICE)
        rows = client.iter_entities(
            sap_messages.CONFIRMATION_SET,
            filter=f"OrderID eq '{self.sap_order_number}'",
            decimal_fields=("ConfirmationYieldQuantity", "ConfirmationScrapQuantity"),
        )
        return [row for row in rows if not row.get("IsReversed") and not row.get("IsReversal")]

    def _sap_mes_reported(self, chain):
        """The MES's reported completed quantity of ``chain``, or None if it reported none."""
        references = set(chain.mapped("name"))
        if "mes_order_ref" in self._fields:
            references |= {ref for ref in chain.mapped("mes_order_ref") if ref}
        events = (
            self.env["mfg.integration.event"]
            .sudo()
            .search(
                [
                    ("direction", "=", "inbound"),
                    ("event_type", "=", "mes.production.completed"),
                    ("state", "=", "done"),
                    ("subject", "in", list(references)),
                ]
            )
        )
        if not events:
            return None
        return sum(float((event.payload or {}).get("qty") or 0.0) for event in events)

    def _sap_three_way(self):
        """{odoo, sap, mes, confirmations} of the whole SAP order, in this order's unit."""
        self.ensure_one()
        chain = self._sap_chain()
        unit = self.product_uom_id
        odoo = sum(
            p.product_uom_id._compute_quantity(p.qty_produced, unit)
            for p in chain
            if p.state == "done"
        )
        try:
            confirmations = self._sap_confirmations()
        except ODataError as error:
            raise UserError(
                _(
                    "SAP could not be asked for the confirmations of order %(order)s: %(error)s",
                    order=self.sap_order_number,
                    error=sap_messages.plain_sap_error(error),
                )
            ) from None
        sap = sum(float(row["ConfirmationYieldQuantity"]) for row in confirmations)
        return {
            "odoo": odoo,
            "sap": sap,
            "mes": self._sap_mes_reported(chain),
            "confirmations": confirmations,
        }

    def action_sap_check_confirmation(self):
        for production in self.filtered("sap_order_number"):
            facts = production._sap_three_way()
            matched = float_is_zero(
                facts["odoo"] - facts["sap"], precision_rounding=production.product_uom_id.rounding
            )
            production.write(
                {
                    "sap_produced_qty": facts["odoo"],
                    "sap_confirmed_qty": facts["sap"],
                    "mes_reported_qty": facts["mes"] or 0.0,
                    "sap_checked_at": fields.Datetime.now(),
                    "sap_confirmation_state": "matched" if matched else "mismatch",
                }
            )
        return True

    def action_sap_correct_confirmation(self):
        """One click: cancel SAP's confirmations of the order through CancelProdnOrdConf and
        post one confirmation of Odoo's produced quantity through the outbox; in the chatter."""
        self.ensure_one()
        if not self.sap_order_number or self.state != "done":
            raise UserError(_("Only a done order that carries out an SAP order can be corrected."))
        facts = self._sap_three_way()
        unit = self.product_uom_id
        if float_is_zero(facts["odoo"] - facts["sap"], precision_rounding=unit.rounding):
            self.action_sap_check_confirmation()
            raise UserError(
                _(
                    "SAP's confirmations of order %(order)s already match Odoo (%(qty)s %(uom)s):"
                    " nothing to correct.",
                    order=self.sap_order_number,
                    qty=facts["odoo"],
                    uom=unit.name,
                )
            )
        system = self.sap_system_id
        client = system._sap_settings().client(sap_messages.CONFIRMATION_SERVICE)
        cancelled = []
        for row in facts["confirmations"]:
            params = {
                "ConfirmationGroup": row["ConfirmationGroup"],
                "ConfirmationCount": row["ConfirmationCount"],
            }
            try:
                client.call_function("CancelProdnOrdConf", params)
            except ODataError as error:
                raise UserError(
                    _(
                        "SAP refused to cancel confirmation %(group)s/%(count)s of order "
                        "%(order)s: %(error)s",
                        order=self.sap_order_number,
                        error=sap_messages.plain_sap_error(error),
                        **{
                            "group": row["ConfirmationGroup"],
                            "count": row["ConfirmationCount"],
                        },
                    )
                ) from None
            cancelled.append(
                f"{row['ConfirmationGroup']}/{row['ConfirmationCount']} "
                f"({sap_values.quantity(row['ConfirmationYieldQuantity'])})"
            )
        Mapping = self.env["mfg.integration.mapping"].sudo()
        data = {
            "OrderID": self.sap_order_number,
            "OrderOperation": self.sap_operation
            or next((row.get("OrderOperation") for row in facts["confirmations"]), "")
            or "",
            "ConfirmationYieldQuantity": sap_values.quantity(facts["odoo"]),
            "ConfirmationScrapQuantity": "0",
            "ConfirmationUnit": sap_values.unit_code(Mapping, system, unit),
            "FinalConfirmationType": "X",
            "PostingDate": fields.Date.context_today(self).isoformat(),
            "ConfirmationText": _("Correction from Odoo")[:40],
        }
        if not data["OrderOperation"]:
            del data["OrderOperation"]
        events = emit_many(
            self.env,
            sap_messages.CONFIRMATION_CONTRACT,
            [{"data": data, "subject": self.sap_order_number}],
            systems=system,
        )
        self.message_post(
            body=_(
                "SAP confirmation corrected: SAP had %(sap)s %(uom)s confirmed, Odoo produced "
                "%(odoo)s %(uom)s (MES: %(mes)s). Cancelled in SAP: %(cancelled)s. New "
                "confirmation of %(odoo)s %(uom)s queued as event %(event)s.",
                sap=facts["sap"],
                odoo=facts["odoo"],
                mes="-" if facts["mes"] is None else facts["mes"],
                uom=unit.name,
                cancelled=", ".join(cancelled) or "-",
                event=events[:1].event_uid or "-",
            )
        )
        self.write(
            {
                "sap_produced_qty": facts["odoo"],
                "sap_confirmed_qty": 0.0,
                "sap_checked_at": fields.Datetime.now(),
                "sap_confirmation_state": "mismatch",
            }
        )
        return True
