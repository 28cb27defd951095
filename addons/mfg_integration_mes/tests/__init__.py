from . import test_mes_install
