from . import test_services
from . import test_contract
from . import test_ingest
from . import test_processing
from . import test_api
from . import test_outbound_services
from . import test_outbound
