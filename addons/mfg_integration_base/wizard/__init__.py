from . import mfg_integration_api_key_wizard
from . import mfg_integration_discard_wizard
from . import mfg_integration_replay_wizard
