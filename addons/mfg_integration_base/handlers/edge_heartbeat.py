from odoo import fields

from ..services.handler_registry import registry


@registry.handler("edge.heartbeat", major=1)
def handle_edge_heartbeat(env, event):
    """Update the sending system's health with what its agent reports.

    Heartbeats can arrive out of order after a buffer drains; an older one never
    overwrites the health a newer one reported.
    """
    data = event.payload
    system = event.system_id.sudo()
    occurred = event.occurred_at or fields.Datetime.now()
    if system.last_heartbeat_at and system.last_heartbeat_at > occurred:
        return system
    system.write(
        {
            "agent_version": data["agent_version"],
            "reported_backlog": data["backlog"],
            "reported_oldest_age_s": data.get("oldest_event_age_s") or 0.0,
            "reported_dead_letters": data.get("dead_letters") or 0,
            "clock_synchronised": data.get("clock_synchronised", True),
            "last_heartbeat_at": occurred,
        }
    )
    return system
