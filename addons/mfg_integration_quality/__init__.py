from . import models
from . import wizard
from . import handlers
from . import reconciliations
from . import controllers
