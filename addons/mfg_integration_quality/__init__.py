from . import models
from . import wizard
from . import handlers
from .services import error_classes
from . import reconciliations
from . import controllers
