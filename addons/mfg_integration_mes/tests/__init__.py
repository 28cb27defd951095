from . import test_mes_install
from . import test_machine_status
from . import test_downtime
from . import test_machine_counters
from . import test_oee
