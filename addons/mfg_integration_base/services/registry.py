"""The base of the framework's plug-in registries: handlers, reconciliation kinds, adapters.

Each registry is a process-wide table: Odoo imports every addon on the addons path, so the
table can hold entries of modules that are not installed in the database at hand. Every
entry records the addon that registered it, and lookups take the set of installed modules
(:func:`installed_modules`) and ignore the entries of the others.
"""


def module_of(obj):
    """The addon that defines ``obj`` (a function or a class): ``odoo.addons.<addon>...``."""
    parts = obj.__module__.split(".")
    if len(parts) >= 3 and parts[0] == "odoo" and parts[1] == "addons":
        return parts[2]
    return parts[0]


def installed_modules(env):
    """The modules installed (and loaded) in ``env``'s database."""
    return env.registry._init_modules


class PluginRegistry:
    """Entries by key, then by the module that registered them."""

    def __init__(self):
        self._entries = {}

    def _put(self, key, module, entry):
        self._entries.setdefault(key, {})[module] = entry
        return entry

    def _registered(self, key):
        """{module: entry} of ``key``, installed or not."""
        return self._entries.get(key, {})

    def _find(self, key, installed_modules=None):
        """The entries of ``key`` that belong to installed modules (all when None)."""
        return [
            entry
            for module, entry in self._registered(key).items()
            if installed_modules is None or module in installed_modules
        ]

    def _usable(self, installed_modules=None):
        """(key, module, entry) of every entry of an installed module."""
        return [
            (key, module, entry)
            for key, by_module in self._entries.items()
            for module, entry in by_module.items()
            if installed_modules is None or module in installed_modules
        ]
