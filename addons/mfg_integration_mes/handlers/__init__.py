from . import machine_status
