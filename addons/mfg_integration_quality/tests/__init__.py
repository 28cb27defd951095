from . import test_quality_install
from . import test_holds
from . import test_genealogy
from . import test_ncr
from . import test_event_sequences
from . import test_api_and_reconciliation
from . import test_mes_integration
