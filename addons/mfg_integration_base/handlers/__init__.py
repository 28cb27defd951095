"""Inbound handlers shipped with the base addon (other addons ship their own)."""

from . import edge_heartbeat
from . import integration_sent_summary
