from . import test_quality_install
