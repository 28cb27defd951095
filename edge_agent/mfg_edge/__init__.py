"""mfg_edge: the plant edge agent (sources -> durable store -> sender), never imports odoo."""

__version__ = "0.2.0"
