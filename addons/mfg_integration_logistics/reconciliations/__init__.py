from . import wms_inventory
