"""What the kinds comparing a system's snapshot share: finding its latest snapshot event.

A snapshot kind (MES work in progress, quality holds, WMS inventory, CMMS cost) compares
Odoo with the newest snapshot the rule's system sent within the rule's window. Here rather
than in services/: the lookup reads events through the ORM and refuses with a UserError.
"""

from datetime import UTC, datetime

from odoo import _
from odoo.exceptions import UserError


def naive_utc(stamp):
    """An RFC 3339 stamp as the naive UTC datetime Odoo stores (no offset: UTC)."""
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def latest_snapshot(rule, event_type, label, start, end):
    """The newest ``event_type`` event of the rule's system in [start, end) that can be
    compared (processed, not shadow, data not purged); a UserError naming ``label`` (the
    snapshot in a planner's words, e.g. "WIP snapshot") when there is none."""
    event = rule.env["mfg.integration.event"].search(
        [
            ("system_id", "=", rule.system_id.id),
            ("direction", "=", "inbound"),
            ("event_type", "=", event_type),
            ("state", "=", "done"),
            ("shadow", "=", False),
            ("payload_purged", "=", False),
            ("occurred_at", ">=", start),
            ("occurred_at", "<", end),
        ],
        order="occurred_at desc, id desc",
        limit=1,
    )
    if not event:
        raise UserError(
            _(
                "%(system)s sent no %(snapshot)s (%(type)s) between %(start)s and %(end)s: "
                "nothing to compare.",
                system=rule.system_id.name,
                snapshot=label,
                type=event_type,
                start=start,
                end=end,
            )
        )
    return event
