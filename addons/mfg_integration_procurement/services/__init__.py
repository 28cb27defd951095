from . import supply_rules
