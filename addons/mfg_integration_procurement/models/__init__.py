from . import mfg_procurement_shortage
from . import purchase_order
from . import purchase_order_line
from . import stock_move
from . import stock_picking
from . import mrp_production
from . import mfg_integration_event
from . import demo_procurement
