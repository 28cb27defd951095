from . import test_crm_orders
from . import test_fulfilment
from . import test_wms_stock
from . import test_inventory_reconciliation
