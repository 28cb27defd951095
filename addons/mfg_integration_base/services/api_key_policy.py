"""When a system's API key stops working: its expiry, and the overlap of a replaced key.

A system has one current key and, for a while after a rotation, the key it replaced: both
work until the overlap ends, then only the new one. Keys generated before keys had an expiry
(no current key recorded on the system) keep working until they are rotated or revoked.
"""

from datetime import timedelta

# The last-used time of a key is written at most this often: a request must not write the
# system's row every time it authenticates.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _utc(moment):
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def refusal(key_id, current_key_id, expires_at, old_valid_until, now):
    """None when the key ``key_id`` may be used at ``now`` (naive UTC datetimes), else the
    sentence of the 401 answer."""
    if not current_key_id:
        return None
    if key_id == current_key_id:
        if expires_at and now >= expires_at:
            return (
                f"This API key expired on {_utc(expires_at)}: ask the integration manager "
                "for a new key."
            )
        return None
    if old_valid_until and now < old_valid_until:
        return None
    ended = f" on {_utc(old_valid_until)}" if old_valid_until else ""
    return (
        f"This API key was replaced by a new one and stopped working{ended}: configure the "
        "new key."
    )


def old_key_end(now, overlap, current_expires_at):
    """Until when the key being replaced keeps working: ``overlap`` after ``now``, never past
    its own expiry (a rotation does not revive an expired key)."""
    end = now + overlap
    if current_expires_at and current_expires_at < end:
        return max(current_expires_at, now)
    return end
