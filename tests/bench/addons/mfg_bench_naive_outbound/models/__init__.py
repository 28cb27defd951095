from . import mfg_integration_event
