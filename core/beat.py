"""Beat's scheduler, which records its own ticks so /healthz/ can tell that beat runs."""

import logging
import socket
import time
from typing import Any

from celery.beat import PersistentScheduler

logger = logging.getLogger(__name__)

# A tick is written at most this often (seconds): one small UPDATE, whatever the schedule.
RECORD_EVERY = 2.0


# Celery ships no type hints: its scheduler is Any to mypy.
class HeraldScheduler(PersistentScheduler):  # type: ignore[misc]
    """Celery's file-backed scheduler; each tick also records `SchedulerTick` for this host."""

    _recorded_at = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval: float = super().tick(*args, **kwargs)  # Celery: seconds to the next tick
        now = time.monotonic()
        if now - self._recorded_at >= RECORD_EVERY:
            self._recorded_at = now
            self._record()
        return interval

    def _record(self) -> None:
        # The database may be down: beat keeps scheduling (the broker may be fine), and the
        # missing ticks are what /healthz/ then reports.
        try:
            from django.db import close_old_connections

            from core.services import scheduler_tick_record

            close_old_connections()  # a connection broken by an outage is replaced
            scheduler_tick_record(hostname=socket.gethostname())
        except Exception as exc:
            logger.warning("beat: could not record its tick: %s", exc)
