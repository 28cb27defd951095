from . import models
from . import handlers
from .services import error_classes
from . import reconciliations
