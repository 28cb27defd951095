from . import test_mes_install
from . import test_machine_status
from . import test_production_events
from . import test_material_and_scrap
from . import test_order_outbound
from . import test_event_sequences
from . import test_services
