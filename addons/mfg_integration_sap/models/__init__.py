from . import mfg_integration_system
from . import mrp_production
from . import mrp_bom
