from . import res_company
from . import product_product
from . import maintenance_equipment
from . import maintenance_request
from . import stock_move
from . import stock_picking
from . import mfg_integration_event
