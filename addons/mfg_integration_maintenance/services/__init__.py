from . import cmms_values
