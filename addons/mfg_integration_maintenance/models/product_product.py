from odoo import _, fields, models
from odoo.tools import float_compare

from odoo.addons.mfg_integration_base.services.errors import BusinessError

from ..services.cmms_values import PART_SUBJECT_PREFIX

AVAILABILITY_CONTRACT = "maintenance.part.availability"


class ProductProduct(models.Model):
    _inherit = "product.product"

    is_spare_part = fields.Boolean(
        string="Spare Part",
        index="btree_not_null",
        help="A part maintenance keeps for equipment: the CMMS hears when its stock changes.",
    )
    spare_part_equipment_ids = fields.Many2many(
        "maintenance.equipment",
        "mfg_maintenance_equipment_spare_part_rel",
        "product_id",
        "equipment_id",
        string="Fits Equipment",
    )

    def _part_code(self):
        self.ensure_one()
        return self.default_code or self.display_name

    def _emit_part_availability(self):
        """Tell the subscribed systems what is on hand and free of these spare parts."""
        parts = self.filtered("is_spare_part")
        items = []
        for part in parts.sudo():
            code = part._part_code()
            items.append(
                {
                    "subject": f"{PART_SUBJECT_PREFIX}{code}",
                    "data": {
                        "part_code": code,
                        "name": part.name,
                        "on_hand": part.qty_available,
                        "available": part.free_qty,
                        "uom": part.uom_id.name,
                    },
                }
            )
        return self.env["mfg.integration.event"]._maintenance_emit(AVAILABILITY_CONTRACT, items)

    def _maintenance_replenish(self, company):
        """Run the part's reordering rules that its forecast fell under, as Odoo's scheduler
        would: a request for quotation to the part's vendor. A part to reorder without a
        vendor is a business error (nobody to buy it from)."""
        self.ensure_one()
        self.env.flush_all()
        orderpoints = self.env["stock.warehouse.orderpoint"].search(
            [("product_id", "=", self.id), ("company_id", "=", company.id)]
        )
        orderpoints.invalidate_recordset()
        below = orderpoints.filtered(
            lambda op: float_compare(
                op.qty_forecast, op.product_min_qty, precision_rounding=op.product_uom.rounding
            )
            < 0
        )
        if not below:
            return self.env["purchase.order.line"]
        vendors = self.seller_ids.filtered(
            lambda s: s.company_id in (company, s.company_id.browse())
        )
        if not vendors:
            raise BusinessError(
                "part_no_vendor",
                _(
                    "Spare part %(part)s fell under its reorder point (%(minimum)s %(uom)s) but "
                    "has no vendor to buy it from",
                    part=self.display_name,
                    minimum=below[0].product_min_qty,
                    uom=self.uom_id.name,
                ),
                suggested_action=_(
                    "Add a vendor on the part's Purchase tab, then retry: the consumption is "
                    "posted and the part reordered together."
                ),
                key_fields={"part": self._part_code()},
            )
        below.with_company(company)._procure_orderpoint_confirm(company_id=company)
        lines = self.env["purchase.order.line"].search(
            [("orderpoint_id", "in", below.ids), ("state", "in", ("draft", "sent"))]
        )
        if not lines:
            raise BusinessError(
                "part_not_reordered",
                _(
                    "Spare part %(part)s fell under its reorder point but its reordering rule "
                    "made no request for quotation",
                    part=self.display_name,
                ),
                suggested_action=_(
                    "Give the part (or its reordering rule) the Buy route, then retry."
                ),
                key_fields={"part": self._part_code()},
            )
        return lines
