"""Registry of inbound event handlers, keyed by contract code and major version.

Each addon registers the handlers of the flows it owns, one file per contract in its
``handlers/`` folder::

    from odoo.addons.mfg_integration_base.services.handler_registry import registry

    @registry.handler("mes.production.completed", major=1)
    def _handle_completed(env, event):
        ...
        return production  # the Odoo record the event resulted in, or None

A handler receives the Odoo environment and the ``mfg.integration.event`` record, and
raises :class:`~.errors.BusinessError` or :class:`~.errors.PrerequisiteMissing` for
failures a person or time must resolve; any other exception is a technical error.
Lookups see only handlers of installed modules (see :mod:`.registry`).
"""

import logging
from dataclasses import dataclass

from .registry import PluginRegistry, module_of

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handler:
    contract_code: str
    major: int
    function: object
    module: str

    def __call__(self, env, event):
        return self.function(env, event)


class HandlerRegistry(PluginRegistry):
    def handler(self, contract_code, major=1):
        """Decorator registering ``function`` for ``contract_code`` version ``major``.x."""

        def decorate(function):
            self.register(contract_code, major, function)
            return function

        return decorate

    def register(self, contract_code, major, function, module=None):
        module = module or module_of(function)
        key = (contract_code, int(major))
        previous = self._registered(key).get(module)
        if previous and previous.function is not function:
            _logger.info("Handler for %s %s.x of %s replaced", contract_code, major, module)
        return self._put(key, module, Handler(contract_code, int(major), function, module))

    def get(self, contract_code, major, installed_modules=None):
        """The handler for this contract version, among those of installed modules."""
        found = self._find((contract_code, int(major)), installed_modules)
        if len(found) > 1:
            modules = ", ".join(sorted(h.module for h in found))
            raise LookupError(
                f"Several installed modules handle {contract_code} {major}.x: {modules}"
            )
        return found[0] if found else None

    def known(self, installed_modules=None):
        """(contract_code, major, module) of every usable handler, for the UI and the API."""
        return sorted(
            (code, major, module) for (code, major), module, _h in self._usable(installed_modules)
        )


class MootCheckRegistry(PluginRegistry):
    """Checks that say whether a later event of a subject makes a failed one moot.

    An addon registers one for the contract whose failed events can become moot::

        @moot_checks.check("mes.production.progress", major=1)
        def _superseded(env, failed_event, later_event):
            if later_event.event_type == "mes.production.completed":
                return "the order's completion supersedes this count"
            return None  # not moot: the later event keeps waiting behind it

    When every event a later one waits behind is failed and moot, their exceptions resolve
    with a chatter line naming the later event, they are discarded, and the later one goes.
    """

    def check(self, contract_code, major=1):
        def decorate(function):
            self._put((contract_code, int(major)), module_of(function), function)
            return function

        return decorate

    def get(self, contract_code, major, installed_modules=None):
        found = self._find((contract_code, int(major)), installed_modules)
        return found[0] if found else None


registry = HandlerRegistry()
moot_checks = MootCheckRegistry()
