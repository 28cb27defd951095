from . import sap_odata
