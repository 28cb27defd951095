from . import quality_holds
