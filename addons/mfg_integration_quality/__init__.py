from . import models
from . import handlers
from . import reconciliations
from . import controllers
