"""Registry of inbound event handlers, keyed by contract code and major version.

Each addon registers the handlers of the flows it owns::

    from odoo.addons.mfg_integration_base.services.handlers import registry

    @registry.handler("mes.production.completed", major=1)
    def _handle_completed(env, event):
        ...
        return production  # the Odoo record the event resulted in, or None

A handler receives the Odoo environment and the ``mfg.integration.event`` record, and
raises :class:`~.errors.BusinessError` or :class:`~.errors.PrerequisiteMissing` for
failures a person or time must resolve; any other exception is a technical error.

Handlers are plain functions in a process-wide table, so the table can hold handlers
of modules that are not installed in the database at hand: lookups therefore take the
set of installed modules and ignore the others.
"""

import logging
from dataclasses import dataclass

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handler:
    contract_code: str
    major: int
    function: object
    module: str

    def __call__(self, env, event):
        return self.function(env, event)


def _module_of(function):
    parts = function.__module__.split(".")
    if len(parts) >= 3 and parts[0] == "odoo" and parts[1] == "addons":
        return parts[2]
    return parts[0]


class HandlerRegistry:
    def __init__(self):
        self._handlers = {}

    def handler(self, contract_code, major=1):
        """Decorator registering ``function`` for ``contract_code`` version ``major``.x."""

        def decorate(function):
            self.register(contract_code, major, function)
            return function

        return decorate

    def register(self, contract_code, major, function, module=None):
        module = module or _module_of(function)
        key = (contract_code, int(major))
        previous = self._handlers.get(key, {}).get(module)
        if previous and previous.function is not function:
            _logger.info("Handler for %s %s.x of %s replaced", contract_code, major, module)
        entry = Handler(contract_code, int(major), function, module)
        self._handlers.setdefault(key, {})[module] = entry
        return entry

    def get(self, contract_code, major, installed_modules=None):
        """The handler for this contract version, among those of installed modules."""
        candidates = self._handlers.get((contract_code, int(major)), {})
        found = [
            handler
            for module, handler in candidates.items()
            if installed_modules is None or module in installed_modules
        ]
        if len(found) > 1:
            modules = ", ".join(sorted(h.module for h in found))
            raise LookupError(
                f"Several installed modules handle {contract_code} {major}.x: {modules}"
            )
        return found[0] if found else None

    def known(self, installed_modules=None):
        """(contract_code, major, module) of every usable handler, for the UI and the API."""
        return sorted(
            (code, major, handler.module)
            for (code, major), by_module in self._handlers.items()
            for handler in by_module.values()
            if installed_modules is None or handler.module in installed_modules
        )


registry = HandlerRegistry()
