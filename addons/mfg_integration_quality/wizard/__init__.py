from . import mfg_quality_genealogy_line
