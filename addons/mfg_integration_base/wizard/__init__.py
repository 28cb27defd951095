from . import mfg_integration_exception_selection
from . import mfg_integration_api_key_wizard
from . import mfg_integration_discard_wizard
from . import mfg_integration_replay_wizard
from . import mfg_integration_assign_wizard
from . import mfg_integration_payload_wizard
from . import mfg_integration_metrics_token_wizard
from . import mfg_integration_deprecate_wizard
