from . import test_cmms_workorder
from . import test_spare_parts
from . import test_event_order
from . import test_system_of_record
from . import test_outbound
from . import test_cost_reconciliation
