from . import test_sap_install
from . import test_odata_client
from . import test_sap_adapter
from . import test_sap_completion
from . import test_sap_exactly_once
from . import test_sap_pulls
from . import test_sap_reconciliation
from . import test_sap_error_classes
