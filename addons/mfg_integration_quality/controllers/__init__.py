from . import genealogy
