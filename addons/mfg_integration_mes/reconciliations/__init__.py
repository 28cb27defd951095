from . import mes_wip
