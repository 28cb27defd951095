from . import test_supply_rules
from . import test_confirmations
from . import test_shipments
from . import test_event_order
from . import test_three_way_match
