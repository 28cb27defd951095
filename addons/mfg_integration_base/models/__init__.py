from . import mfg_integration_system
from . import mfg_integration_contract
from . import mfg_integration_mapping
from . import mfg_integration_mapping_line
from . import mfg_integration_event
from . import mfg_integration_exception
from . import mfg_integration_rate_window
from . import mfg_integration_sent_count
