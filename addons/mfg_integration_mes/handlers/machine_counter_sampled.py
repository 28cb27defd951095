from odoo import fields

from odoo.addons.mfg_integration_base.services.handler_registry import registry


@registry.handler("machine.counter.sampled", major=1)
def handle_counter_sampled(env, event):
    """Keep the work center's good and rejected unit counts (for OEE), and count the
    counter its equipment watches: past the interval, a preventive request opens."""
    data = event.payload
    workcenter = event._map("workcenter", data["machine"])
    sampled_at = event.occurred_at or fields.Datetime.now()
    if data["counter"] in (workcenter.good_counter, workcenter.reject_counter):
        env["mfg.workcenter.counter.sample"].create(
            {
                "workcenter_id": workcenter.id,
                "counter": data["counter"],
                "value": data["value"],
                "sampled_at": sampled_at,
                "system_id": event.system_id.id,
            }
        )
    requests = workcenter.equipment_id._counter_sampled(data["counter"], data["value"], sampled_at)
    return requests[:1] or workcenter
