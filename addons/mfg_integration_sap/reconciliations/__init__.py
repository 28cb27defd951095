from . import sap_stock
from . import sap_confirmation
