"""Shadow runs: what a handler would have done, recorded before its savepoint is rolled back.

While a contract runs in shadow mode beside a legacy interface, its handler runs for real
inside a savepoint that is then rolled back. A :class:`ShadowRecorder` is active for the
duration: the ORM hooks in ``models/base.py`` report to it every record created, written
or deleted of the models the contract declares as effect models, and it reads their key and
quantity fields before the rollback.

Limits (by design, documented on the contract form too):

* Only changes made through the ORM (``create``, ``write``, ``unlink``) of declared effect
  models are seen; raw SQL updates and stored computed fields recomputed without a
  ``write`` are not.
* Side effects outside the database that the handler starts itself (an HTTP call, a
  file) are not undone. Pre- and post-commit callbacks it registers are dropped, and those
  of earlier events of the same job kept (:func:`callbacks_kept`).
* At most :data:`MAX_RECORDS` records are kept per event (``truncated`` says when more).
"""

from contextlib import contextmanager
from contextvars import ContextVar

MAX_RECORDS = 200

# (cursor, recorder) of the shadow run in progress in this thread or task, if any.
_ACTIVE = ContextVar("mfg_integration_shadow_recorder", default=None)


def recorder_for(cr, model_name):
    """The recorder watching ``model_name`` on cursor ``cr``, or None (the common case)."""
    active = _ACTIVE.get()
    if active is None or active[0] is not cr:
        return None
    recorder = active[1]
    return recorder if model_name in recorder.fields else None


@contextmanager
def recording(cr, recorder):
    token = _ACTIVE.set((cr, recorder))
    try:
        yield recorder
    finally:
        _ACTIVE.reset(token)


@contextmanager
def callbacks_kept(cr):
    """Restore the cursor's pre- and post-commit callbacks as they were on entry.

    Rolling back a flushing savepoint clears every pre-commit callback of the transaction,
    including the chatter tracking of events applied earlier in the same job; a shadow run
    rolls back every time, so it puts back what was there and drops what the handler added.
    Data dictionaries are copied two levels deep: mail tracking keeps {model: {id: values}}.
    """
    saved = [
        (
            callbacks,
            list(callbacks._funcs),
            {key: value.copy() if isinstance(value, dict) else value
             for key, value in callbacks.data.items()},
        )
        for callbacks in (cr.precommit, cr.postcommit)
    ]  # fmt: skip
    try:
        yield
    finally:
        for callbacks, funcs, data in saved:
            callbacks.clear()
            for func in funcs:
                callbacks.add(func)
            callbacks.data.update(data)


def plain_value(record, field_name):
    """A JSON-ready value of one field: ids for relations, floats for numbers."""
    field = record._fields[field_name]
    value = record[field_name]
    if field.type == "many2one":
        return value.id or None
    if field.type in ("one2many", "many2many"):
        return value.ids
    if field.type == "integer":
        return int(value or 0)
    if field.type in ("float", "monetary"):
        return float(value or 0.0)
    if field.type in ("date", "datetime"):
        return value.isoformat() if value else None
    if value is False and field.type != "boolean":
        return None
    return value


class ShadowRecorder:
    """Collects the effects of one handler run, for the models in ``fields``.

    :param fields: {model name: field names to read (business key and quantity)}
    """

    def __init__(self, fields):
        self.fields = {model: tuple(dict.fromkeys(names)) for model, names in fields.items()}
        self._created = {}  # model -> {id: None}, in creation order
        self._written = {}  # model -> {id: {"before": values, "fields": set}}
        self._deleted = {}  # model -> {id: {"before": values, "name": str}}

    def _values(self, record):
        return {name: plain_value(record, name) for name in self.fields[record._name]}

    def created(self, records):
        self._created.setdefault(records._name, {}).update(dict.fromkeys(records.ids))

    def before_write(self, records, vals):
        created = self._created.get(records._name, {})
        written = self._written.setdefault(records._name, {})
        for record in records.sudo():
            if record.id in created:
                continue  # a created record is reported with its final values
            entry = written.get(record.id)
            if entry is None:
                entry = written[record.id] = {"before": self._values(record), "fields": set()}
            entry["fields"].update(vals)

    def before_unlink(self, records):
        created = self._created.get(records._name, {})
        deleted = self._deleted.setdefault(records._name, {})
        for record in records.sudo():
            if record.id in created:
                del created[record.id]  # created and deleted in the same run: no effect
                continue
            entry = self._written.get(records._name, {}).pop(record.id, None)
            deleted[record.id] = {
                "before": entry["before"] if entry else self._values(record),
                "name": record.display_name,
            }

    def effects(self, env, result=None):
        """The effects as stored on the event; call after a flush, before the rollback."""
        rows = []
        for model, ids in self._created.items():
            for record in env[model].sudo().browse(list(ids)).exists():
                rows.append(
                    {
                        "model": model,
                        "operation": "create",
                        "id": record.id,
                        "name": record.display_name,
                        "values": self._values(record),
                    }
                )
        for model, entries in self._written.items():
            for record in env[model].sudo().browse(list(entries)).exists():
                entry = entries[record.id]
                rows.append(
                    {
                        "model": model,
                        "operation": "write",
                        "id": record.id,
                        "name": record.display_name,
                        "fields": sorted(entry["fields"]),
                        "before": entry["before"],
                        "values": self._values(record),
                    }
                )
        for model, entries in self._deleted.items():
            for record_id, entry in entries.items():
                rows.append(
                    {
                        "model": model,
                        "operation": "unlink",
                        "id": record_id,
                        "name": entry["name"],
                        "before": entry["before"],
                    }
                )
        summary = None
        if result is not None and hasattr(result, "_name") and len(result) == 1:
            summary = {"model": result._name, "id": result.id, "name": result.display_name}
        return {
            "result": summary,
            "records": rows[:MAX_RECORDS],
            "record_count": len(rows),
            "truncated": len(rows) > MAX_RECORDS,
        }
