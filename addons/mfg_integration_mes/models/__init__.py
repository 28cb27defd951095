from . import mrp_production
from . import mfg_integration_event
