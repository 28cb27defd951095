from . import models
from . import adapters
from . import handlers
from . import reconciliations
from . import wizard
