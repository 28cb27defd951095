"""Shadow runs: a handler runs in a savepoint that is rolled back, and what it did is kept.

Business errors, missing prerequisites and technical errors propagate as in a live run,
so a shadow contract shows the failures the new path would have. See services/shadow.py
for what the recorder sees and its limits.
"""

from ..services import shadow as shadow_service


class _ShadowRollback(Exception):
    """Raised at the end of a shadow run to roll its savepoint back."""


def run_in_shadow(event, handler):
    """Run ``handler`` on ``event`` and roll it back; return what it would have done.

    The effects are read (after a flush) before the rollback.
    """
    event.ensure_one()
    env = event.env
    recorder = shadow_service.ShadowRecorder(event.contract_id._shadow_fields())
    effects = None
    try:
        with (
            shadow_service.callbacks_kept(env.cr),
            env.cr.savepoint(),
            shadow_service.recording(env.cr, recorder),
        ):
            result = handler(env, event)
            env.flush_all()
            effects = recorder.effects(env, result)
            raise _ShadowRollback
    except _ShadowRollback:
        pass
    return effects
