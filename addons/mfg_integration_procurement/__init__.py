from . import models
from . import report
from . import handlers
from .services import error_classes
