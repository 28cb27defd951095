"""Registry of outbound delivery adapters, keyed by the system's ``outbound_adapter``.

An adapter delivers a batch of outbound events to one system and says what became of
each. Each addon registers the adapters of the systems it speaks to::

    from odoo.addons.mfg_integration_base.services.adapters import Adapter, registry

    @registry.adapter
    class ODataAdapter(Adapter):  # in the addon's adapters/ folder
        key = "sap_odata"

        def deliver(self, batch):
            ...
            return [Outcome("delivered", 201) for message in batch]

and adds its key to the system's selection field (``selection_add``). Lookups see only
adapters of installed modules (see :mod:`.registry`). Adapters hold no
ORM state: they get :class:`Settings` and :class:`Message` objects, so they run in the
dispatcher's delivery threads and in unit tests without a database.

The contract of ``deliver(batch)``: ``batch`` lists events in delivery order; the
result has one :class:`~.delivery_policy.Outcome` per event, in the same order. An
adapter that can fail part of a batch must not deliver a later event of a subject whose
earlier event failed (answer ``skipped`` for it).
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from .registry import PluginRegistry, module_of

# Adapters (and their keep-alive connections) kept per process, per settings.
CACHE_SIZE = 64


@dataclass(frozen=True)
class Settings:
    """A system's delivery settings, as the adapter needs them (hashable: cache key)."""

    system_code: str
    url: str
    secret: str = field(default="", repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    # True, False, or the path of a CA bundle (requests' ``verify``)
    verify: bool | str = True
    parallel: int = 1
    # adapter-specific settings as a hashable tuple of (key, value) pairs (e.g. the CSV
    # adapter's columns per contract)
    options: tuple = ()


@dataclass(frozen=True)
class Message:
    """One outbound event: its CloudEvents envelope and what delivery needs to know."""

    event_id: int
    envelope: dict
    subject: str | None = None
    correlation_id: str | None = None
    batchable: bool = False

    @property
    def cloudevent_id(self):
        return self.envelope["id"]


class Adapter:
    key = None

    def __init__(self, settings):
        self.settings = settings

    def deliver(self, batch):
        raise NotImplementedError

    def close(self):
        """Release connections (called when the adapter leaves the cache)."""


class AdapterRegistry(PluginRegistry):
    def __init__(self):
        super().__init__()
        self._instances = OrderedDict()
        self._lock = threading.Lock()

    def adapter(self, cls):
        """Class decorator: register ``cls`` under ``cls.key``."""
        if not cls.key:
            raise ValueError(f"{cls.__name__} has no key")
        self._put(cls.key, module_of(cls), cls)
        return cls

    def keys(self, installed_modules=None):
        return sorted({key for key, _module, _cls in self._usable(installed_modules)})

    def get(self, key, installed_modules=None):
        found = self._find(key, installed_modules)
        if len(found) != 1:
            problem = "several modules register" if found else "no installed module registers"
            raise LookupError(f"Outbound adapter '{key}': {problem} it")
        return found[0]

    def instance(self, key, settings, installed_modules=None):
        """The adapter for ``settings``, reused across calls so connections stay open."""
        cls = self.get(key, installed_modules)
        cache_key = (key, settings)
        with self._lock:
            adapter = self._instances.pop(cache_key, None)
            if adapter is None or type(adapter) is not cls:
                adapter = cls(settings)
            self._instances[cache_key] = adapter
            while len(self._instances) > CACHE_SIZE:
                _key, old = self._instances.popitem(last=False)
                old.close()
            return adapter


registry = AdapterRegistry()
