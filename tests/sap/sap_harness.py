"""Shared by the SAP emulator's tests and its benchmark: the addon's OData client loaded from its
folder (plain Python: no Odoo import) and the emulator's names."""

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ODATA = REPO / "addons" / "mfg_integration_sap" / "services" / "odata"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _load_client_package():
    """The addon's ``services/odata`` as the package ``sap_odata`` (its modules import each
    other relatively, and the addon's ``__init__`` would import Odoo)."""
    if "sap_odata" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "sap_odata", ODATA / "__init__.py", submodule_search_locations=[str(ODATA)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["sap_odata"] = module
        spec.loader.exec_module(module)


_load_client_package()

from sap_odata.auth import BasicAuth  # noqa: E402
from sap_odata.client import ODataClient  # noqa: E402

from sap_emulator.server import start_emulator  # noqa: E402

__all__ = ["start_emulator"]

USER, PASSWORD = "MFG_COMM_USER", "s3cret-for-tests"
ORDERS = "API_PRODUCTION_ORDER_2_SRV"
CONFIRMATIONS = "API_PROD_ORDER_CONFIRMATION_2_SRV"
DOCUMENTS = "API_MATERIAL_DOCUMENT_SRV"
PRODUCTS = "API_PRODUCT_SRV"
BOMS = "API_BILL_OF_MATERIAL_SRV;v=0002"
STOCK = "API_MATERIAL_STOCK_SRV"


def client(emulator, service, **options):
    """An ODataClient on ``emulator``'s ``service`` with Basic auth and sap-client 100."""
    options.setdefault("auth", BasicAuth(USER, PASSWORD))
    options.setdefault("sap_client", "100")
    options.setdefault("timeout", (2.0, 5.0))
    return ODataClient(emulator.service_url(service), **options)
