from odoo import _, fields, models


class MaintenanceEquipment(models.Model):
    _inherit = "maintenance.equipment"

    workcenter_ids = fields.One2many("mrp.workcenter", "equipment_id", string="Work Centers")
    counter_name = fields.Char(
        string="Watched Counter",
        help="The machine counter that wears this equipment (e.g. cycles), as the machine "
        "names it.",
    )
    counter_interval = fields.Float(
        string="Preventive Maintenance Every",
        help="Counter units between two preventive maintenance requests (e.g. 10000 cycles). "
        "0: the counter opens no request.",
    )
    counter_last_value = fields.Float(string="Last Counter Value", readonly=True)
    counter_last_sampled_at = fields.Datetime(string="Counter Sampled At", readonly=True)
    counter_since_request = fields.Float(
        string="Counted Since Last Request",
        readonly=True,
        help="What the watched counter counted since the last preventive request it opened "
        "(or since Odoo first saw the counter).",
    )

    _sql_constraints = [
        (
            "counter_interval_positive",
            "CHECK(counter_interval >= 0)",
            "The preventive maintenance interval cannot be negative.",
        )
    ]

    def _counter_sampled(self, counter, value, sampled_at):
        """Count a sample of the watched counter; past the interval, open a preventive
        request (once per crossing: the count starts again from zero).

        Samples older than the last one seen are ignored (they arrived late); a value below
        the last one is a counter reset, so the new value counts from zero.
        """
        requests = self.env["maintenance.request"]
        for equipment in self.filtered(lambda e: e.counter_name and e.counter_name == counter):
            last_at = equipment.counter_last_sampled_at
            if last_at and sampled_at <= last_at:
                continue
            since_request = equipment.counter_since_request
            if last_at:
                last = equipment.counter_last_value
                since_request += value - last if value >= last else value
            values = {
                "counter_last_value": value,
                "counter_last_sampled_at": sampled_at,
                "counter_since_request": since_request,
            }
            if equipment.counter_interval and since_request >= equipment.counter_interval:
                requests |= equipment._open_counter_request(counter, value, since_request)
                values["counter_since_request"] = 0.0
            equipment.write(values)
        return requests

    def _open_counter_request(self, counter, value, since_request):
        self.ensure_one()
        # numbers formatted outside _(): babel's extraction of this file stops at an f-string
        value_text = f"{value:g}"
        since_text = f"{since_request:g}"
        interval_text = f"{self.counter_interval:g}"
        return self.env["maintenance.request"].create(
            {
                "name": _(
                    "Preventive maintenance of %(equipment)s: %(counter)s reached %(value)s",
                    equipment=self.name,
                    counter=counter,
                    value=value_text,
                ),
                "equipment_id": self.id,
                "company_id": self.company_id.id or self.env.company.id,
                "maintenance_type": "preventive",
                "description": _(
                    "The counter %(counter)s counted %(since)s since the last request "
                    "(interval: %(interval)s).",
                    counter=counter,
                    since=since_text,
                    interval=interval_text,
                ),
            }
        )
