from . import wms_stock_moved
from . import wms_inventory_adjusted
from . import wms_shipment_confirmed
from . import wms_inventory_snapshot
from . import crm_order_placed
