from . import pull
