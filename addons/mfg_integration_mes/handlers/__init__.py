from . import machine_status
from . import workorder_started
from . import production_progress
from . import production_completed
from . import material_consumed
from . import scrap_reported
