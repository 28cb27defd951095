from . import genealogy
from . import hold_messages
