from . import models
from . import handlers
