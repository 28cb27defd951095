"""When a system's maintenance window pauses its traffic (see
models/mfg_integration_maintenance_window.py)."""

# Windows are looked up per chunk and per dispatch round: chained windows are followed this
# many times at most (a window ending where the next begins).
MAX_CHAINED_WINDOWS = 20


def _chain_end(spans, now):
    """The end of the pause the windows ``spans`` [(from, to)] make at ``now``, or None."""
    until = None
    for _round in range(MAX_CHAINED_WINDOWS):
        reach = until or now
        covering = [end for start, end in spans if start <= reach < end]
        if not covering or max(covering) == until:
            break
        until = max(covering)
    return until


def window_states(env, system_ids, now):
    """{system id: {"inbound": end or None, "outbound": end or None, "reason": text}} for the
    systems in a maintenance window at ``now``; one query."""
    if not system_ids:
        return {}
    env["mfg.integration.maintenance.window"].flush_model()
    env.cr.execute(
        """
        SELECT system_id, date_from, date_to, pause_inbound, pause_outbound, reason
          FROM mfg_integration_maintenance_window
         WHERE system_id = ANY(%s) AND date_to > %s
         ORDER BY system_id, date_from
        """,
        [list(system_ids), now],
    )
    windows = {}
    for system_id, date_from, date_to, inbound, outbound, reason in env.cr.fetchall():
        windows.setdefault(system_id, []).append((date_from, date_to, inbound, outbound, reason))
    result = {}
    for system_id, rows in windows.items():
        state = {
            "inbound": _chain_end([(f, t) for f, t, i, _o, _r in rows if i], now),
            "outbound": _chain_end([(f, t) for f, t, _i, o, _r in rows if o], now),
            "reason": next((r for f, t, _i, _o, r in rows if f <= now < t), ""),
        }
        if state["inbound"] or state["outbound"]:
            result[system_id] = state
    return result


def paused_until(env, system_ids, now, direction):
    """{system id: end of the pause} for the systems in a maintenance window at ``now``
    that pauses ``direction`` ('inbound' or 'outbound'); one query."""
    return {
        system_id: state[direction]
        for system_id, state in window_states(env, system_ids, now).items()
        if state[direction]
    }
