"""Signals conversions/ sends (api/emit.py turns them into outbound events)."""

from django.dispatch import Signal

# A batch of conversions was stored and attributed (ids of the new ones, one signal per batch).
conversions_attributed = Signal()
