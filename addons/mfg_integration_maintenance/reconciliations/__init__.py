from . import cmms_cost
