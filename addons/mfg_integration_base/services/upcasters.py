"""Upcasters: convert an event of an older major version of a contract to the next one.

A sender still on version 1 of a contract keeps working after version 2 replaces it: the
addon that owns the contract registers a function per step, and the API converts the event
on ingest (validated first against the version it was sent in, then against the version it
became), keeps the data as received on the event, and counts it under the version sent so
the contract shows who still sends it::

    from odoo.addons.mfg_integration_base.services.upcasters import upcasters

    @upcasters.upcaster("mes.production.completed", from_major=1)
    def _v1_to_v2(data):
        data = dict(data)
        data["quantity"] = {"value": data.pop("qty"), "uom": "Units"}
        return data

A step gets a copy of the data and returns the data of ``from_major + 1``. Lookups see only
the upcasters of installed modules (see :mod:`.registry`).
"""

import copy

from .registry import PluginRegistry, module_of


class UpcasterRegistry(PluginRegistry):
    def upcaster(self, contract_code, from_major):
        def decorate(function):
            self._put((contract_code, int(from_major)), module_of(function), function)
            return function

        return decorate

    def chain(self, contract_code, from_major, to_major, installed_modules=None):
        """The steps from ``from_major`` to ``to_major``, or None when one is missing."""
        steps = []
        for major in range(int(from_major), int(to_major)):
            found = self._find((contract_code, major), installed_modules)
            if len(found) != 1:
                return None
            steps.append(found[0])
        return steps or None


def apply_chain(steps, data):
    for step in steps:
        data = step(copy.deepcopy(data))
        if not isinstance(data, dict):
            raise TypeError(f"upcaster {step.__name__} returned {type(data).__name__}, not a dict")
    return data


upcasters = UpcasterRegistry()
