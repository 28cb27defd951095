from . import test_sap_install
