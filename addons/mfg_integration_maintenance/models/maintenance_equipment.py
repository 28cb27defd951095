from odoo import api, fields, models

from ..services.cmms_values import EQUIPMENT_REF_PREFIX

EQUIPMENT_CONTRACT = "maintenance.equipment.changed"
# Fields whose change the CMMS hears about (maintenance.equipment.changed).
CMMS_EQUIPMENT_FIELDS = (
    "name",
    "serial_no",
    "location",
    "active",
    "maintenance_labour_rate",
    "spare_part_ids",
    "workcenter_ids",
)


class MaintenanceEquipment(models.Model):
    _inherit = "maintenance.equipment"

    spare_part_ids = fields.Many2many(
        "product.product",
        "mfg_maintenance_equipment_spare_part_rel",
        "equipment_id",
        "product_id",
        string="Spare Parts",
        domain="[('is_spare_part', '=', True)]",
    )
    maintenance_labour_rate = fields.Float(
        string="Labour Rate",
        tracking=True,
        help="Cost of one technician hour on this equipment; 0: the company's maintenance "
        "labour rate.",
    )

    _sql_constraints = [
        (
            "maintenance_labour_rate_positive",
            "CHECK(maintenance_labour_rate >= 0)",
            "The labour rate cannot be negative.",
        )
    ]

    @api.model_create_multi
    def create(self, vals_list):
        equipments = super().create(vals_list)
        equipments._emit_equipment_changed()
        return equipments

    def write(self, vals):
        result = super().write(vals)
        if any(field in vals for field in CMMS_EQUIPMENT_FIELDS):
            self._emit_equipment_changed()
        return result

    def _labour_rate(self):
        """The rate of a technician hour on this equipment (else the company's)."""
        self.ensure_one()
        company = self.company_id or self.env.company
        return self.maintenance_labour_rate or company.maintenance_labour_rate

    def _emit_equipment_changed(self):
        """Tell the subscribed systems (not the one whose event made the change)."""
        items = [
            {
                "subject": f"{EQUIPMENT_REF_PREFIX}{equipment.id}",
                "data": {
                    "equipment_ref": f"{EQUIPMENT_REF_PREFIX}{equipment.id}",
                    "name": equipment.name,
                    "serial_no": equipment.serial_no or None,
                    "location": equipment.location or None,
                    "workcenter": equipment.workcenter_ids[:1].code
                    or equipment.workcenter_ids[:1].name
                    or None,
                    "labour_rate": equipment._labour_rate(),
                    "spare_parts": [part._part_code() for part in equipment.spare_part_ids],
                    "active": equipment.active,
                },
            }
            for equipment in self.sudo().with_context(active_test=False)
        ]
        return self.env["mfg.integration.event"]._maintenance_emit(
            EQUIPMENT_CONTRACT, items, echo=False
        )
