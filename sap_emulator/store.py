"""The emulator's data: entities in memory (as SAP's JSON writes them), kept in SQLite so a
restart finds them again; a transaction undoes all its changes when it fails (a changeset)."""

import contextlib
import json
import sqlite3
import threading

SCHEMA = """
CREATE TABLE IF NOT EXISTS entity (
    entity_set TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (entity_set, key)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def key_of(entity_set, row):
    return tuple(row[name] for name in entity_set.keys)


class Store:
    """All entity sets; every access holds ``lock`` (the server serves one request's data
    work at a time: enough for tests and a demo, and it makes a changeset atomic)."""

    def __init__(self, path, entity_sets):
        self.entity_sets = entity_sets
        self.lock = threading.RLock()
        self.database = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.database.executescript(SCHEMA)
        self.database.execute("PRAGMA journal_mode=WAL")
        self.data = {name: {} for name in entity_sets}
        self.meta = {}
        self._indexes = {}
        self._undo = None
        self._dirty = None
        self._load()

    def _load(self):
        for name, body in self.database.execute(
            "SELECT entity_set, body FROM entity ORDER BY rowid"
        ):
            if name in self.data:
                row = json.loads(body)
                self.data[name][key_of(self.entity_sets[name], row)] = row
        self.meta = dict(self.database.execute("SELECT name, value FROM meta"))

    @property
    def empty(self):
        return not any(self.data.values())

    def close(self):
        with self.lock:
            self.database.close()

    # reads

    def rows(self, name):
        return list(self.data[name].values())

    def get(self, name, key):
        return self.data[name].get(tuple(key))

    def find(self, name, **values):
        """Rows of ``name`` whose fields equal ``values`` (an index per field set, rebuilt
        after the set changes)."""
        fields = tuple(sorted(values))
        index = self._indexes.get((name, fields))
        if index is None:
            index = {}
            for row in self.data[name].values():
                index.setdefault(tuple(row.get(field) for field in fields), []).append(row)
            self._indexes[(name, fields)] = index
        return list(index.get(tuple(values[field] for field in fields), ()))

    def count(self, name):
        return len(self.data[name])

    # writes

    def put(self, name, row):
        key = key_of(self.entity_sets[name], row)
        old = self.data[name].get(key)
        if self._undo is not None:
            self._undo.append(("row", name, key, old))
            self._dirty.add(("row", name, key))
        self.data[name][key] = row
        self._update_indexes(name, old, row)
        if self._undo is None:
            self._persist({("row", name, key)})
        return row

    def _update_indexes(self, name, old, row):
        """Keep the set's indexes current: a changed row keeps its place in its bucket (the
        order of an order's operations), a new one goes last."""
        for (index_name, fields), index in self._indexes.items():
            if index_name != name:
                continue
            position = old_key = None
            if old is not None:
                old_key = tuple(old.get(field) for field in fields)
                bucket = index.get(old_key, [])
                position = next((n for n, item in enumerate(bucket) if item is old), None)
                if position is not None:
                    del bucket[position]
            new_key = tuple(row.get(field) for field in fields)
            bucket = index.setdefault(new_key, [])
            if position is not None and new_key == old_key:
                bucket.insert(position, row)
            else:
                bucket.append(row)

    def put_committed(self, name, row):
        """Store ``row`` at once, outside the running transaction: a change another SAP user
        made meanwhile, which the transaction's rollback must not undo."""
        key = key_of(self.entity_sets[name], row)
        old = self.data[name].get(key)
        self.data[name][key] = row
        self._update_indexes(name, old, row)
        self._persist({("row", name, key)})
        return row

    def next_number(self, counter, first):
        """The next number of ``counter`` (confirmation groups, material documents...)."""
        value = int(self.meta.get(counter, first - 1)) + 1
        self.set_meta(counter, str(value))
        return value

    def set_meta(self, name, value):
        if self._undo is not None:
            self._undo.append(("meta", name, None, self.meta.get(name)))
            self._dirty.add(("meta", name, None))
        self.meta[name] = value
        if self._undo is None:
            self._persist({("meta", name, None)})

    @contextlib.contextmanager
    def transaction(self):
        """All changes of the block, or none of them (in memory and in SQLite)."""
        with self.lock:
            if self._undo is not None:  # nested: the outer transaction decides
                yield
                return
            self._undo, self._dirty = [], set()
            try:
                yield
            except BaseException:
                for kind, name, key, old in reversed(self._undo):
                    if kind == "meta":
                        self._restore_meta(name, old)
                    elif old is None:
                        self.data[name].pop(key, None)
                    else:
                        self.data[name][key] = old
                    self._drop_indexes(name)
                raise
            else:
                self._persist(self._dirty)
            finally:
                self._undo = self._dirty = None

    def _restore_meta(self, name, old):
        if old is None:
            self.meta.pop(name, None)
        else:
            self.meta[name] = old

    def _drop_indexes(self, name):
        for index_key in [key for key in self._indexes if key[0] == name]:
            del self._indexes[index_key]

    def _persist(self, dirty):
        rows, metas = [], []
        for kind, name, key in dirty:
            if kind == "meta":
                metas.append((name, self.meta[name]))
            else:
                row = self.data[name].get(key)
                rows.append((name, json.dumps(list(key)), json.dumps(row)))
        self.database.execute("BEGIN")
        try:
            self.database.executemany(
                "INSERT INTO entity (entity_set, key, body) VALUES (?, ?, ?)"
                " ON CONFLICT (entity_set, key) DO UPDATE SET body = excluded.body",
                rows,
            )
            self.database.executemany(
                "INSERT INTO meta (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                metas,
            )
        except BaseException:
            self.database.execute("ROLLBACK")
            raise
        self.database.execute("COMMIT")

    def replace_all(self, rows_by_set, meta):
        """Everything replaced by a fresh data set (seeding and the reset endpoint)."""
        with self.lock:
            self.data = {name: {} for name in self.entity_sets}
            self._indexes = {}
            for name, rows in rows_by_set.items():
                for row in rows:
                    self.data[name][key_of(self.entity_sets[name], row)] = row
            self.meta = dict(meta)
            self.database.execute("BEGIN")
            self.database.execute("DELETE FROM entity")
            self.database.execute("DELETE FROM meta")
            self.database.executemany(
                "INSERT INTO entity (entity_set, key, body) VALUES (?, ?, ?)",
                (
                    (name, json.dumps(list(key)), json.dumps(row))
                    for name, table in self.data.items()
                    for key, row in table.items()
                ),
            )
            self.database.executemany("INSERT INTO meta VALUES (?, ?)", self.meta.items())
            self.database.execute("COMMIT")
