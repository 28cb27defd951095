from ..services.handler_registry import registry


@registry.handler("integration.sent.summary", major=1)
def handle_sent_summary(env, event):
    """Record how many events of each contract a system says it sent on a day.

    Completeness reconciliation compares these counts with what Odoo received; a
    newer report for the same day replaces the older one.
    """
    data = event.payload
    Count = env["mfg.integration.sent.count"].sudo()
    system = event.system_id
    existing = Count.search([("system_id", "=", system.id), ("day", "=", data["day"])])
    by_type = {count.event_type: count for count in existing}
    for line in data["counts"]:
        values = {"reported_count": line["count"], "reported_by_event_id": event.id}
        if line["type"] in by_type:
            by_type[line["type"]].write(values)
        else:
            Count.create(
                dict(values, system_id=system.id, day=data["day"], event_type=line["type"])
            )
