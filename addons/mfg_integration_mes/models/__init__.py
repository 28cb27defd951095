from . import mrp_production
from . import mrp_workcenter_productivity_loss
from . import mrp_workcenter_productivity
from . import mrp_workcenter
from . import maintenance_equipment
from . import mfg_workcenter_counter_sample
from . import mfg_workcenter_oee
from . import maintenance_request
