from . import inspection_recorded
from . import lot_held
from . import lot_released
from . import hold_snapshot
