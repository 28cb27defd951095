from . import test_crm_orders
