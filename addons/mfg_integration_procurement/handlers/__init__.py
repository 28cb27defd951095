from . import supplier_po_confirmed
from . import supplier_shipment_notified
from . import supplier_po_rejected
