from . import models
from . import adapters
from . import handlers
from .services import error_classes
from . import reconciliations
from . import wizard
