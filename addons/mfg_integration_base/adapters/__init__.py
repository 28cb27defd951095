"""Outbound delivery adapters of this addon, one file each, registered in services/adapters.py."""

from . import webhook
from . import csv_file
