from . import services
from . import models
from . import controllers
from . import wizard
from . import handlers
from . import adapters
from . import reconciliations
