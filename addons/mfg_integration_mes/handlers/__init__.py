from . import machine_status
from . import mes_downtime_started
from . import mes_downtime_ended
from . import mes_downtime_reported
from . import machine_counter_sampled
