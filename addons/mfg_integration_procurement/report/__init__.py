from . import mfg_procurement_match
