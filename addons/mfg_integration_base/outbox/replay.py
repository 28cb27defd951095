"""Replay: outbound events delivered again by a person's decision, with the reason kept."""

from odoo import _, fields
from odoo.exceptions import UserError

from ..services.event_states import REPLAYABLE_STATES
from . import dispatcher


def replay(events, reason):
    """Deliver these outbound events again, under their own ids (receivers dedup on
    webhook-id), with ``reason`` in each event's and each system's history."""
    reason = (reason or "").strip()
    if not reason:
        raise UserError(_("Say why these events are sent again: the reason is kept for audit."))
    inbound = events.filtered(lambda event: event.direction != "outbound")
    if inbound:
        raise UserError(_("Only outbound events can be replayed; retry inbound events."))
    replayable = events.filtered(lambda e: e.state in REPLAYABLE_STATES)
    if not replayable:
        raise UserError(_("None of these events can be replayed: they are on their way."))
    user_name = events.env.user.name
    open_exceptions = replayable.exception_id.filtered(lambda x: x.state in ("open", "in_progress"))
    env = events.env
    events = replayable.sudo()
    events.write(
        {
            "state": "queued",
            "attempts": 0,
            "next_attempt_at": False,
            "error": False,
            "error_code": False,
        }
    )
    note = _("Replayed by %(user)s: %(reason)s", user=user_name, reason=reason)
    events._message_log_batch(bodies={event.id: note for event in events})
    if open_exceptions:
        open_exceptions.sudo().write(
            {
                "state": "resolved",
                "resolution": note,
                "resolved_by_id": env.uid,
                "resolved_on": fields.Datetime.now(),
            }
        )
    for system in events.system_id:
        mine = events.filtered(lambda e, s=system: e.system_id == s)
        contracts = ", ".join(sorted(set(mine.mapped("event_type"))))
        system.message_post(
            body=_(
                "%(n)s outbound events (%(contracts)s) replayed by %(user)s: %(reason)s",
                n=len(mine),
                contracts=contracts,
                user=user_name,
                reason=reason,
            )
        )
    dispatcher.schedule_dispatch(env, events.system_id.ids)
    return len(events)
