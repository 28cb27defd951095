from . import production_order
from . import material
from . import bill_of_material
