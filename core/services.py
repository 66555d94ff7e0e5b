"""Core services: worker liveness."""

import datetime as dt

from django.utils import timezone

from core.models import WorkerHeartbeat

HEARTBEAT_STALE_AFTER = dt.timedelta(minutes=2)


def worker_heartbeat_record(*, hostname: str) -> WorkerHeartbeat:
    """Record that the worker on `hostname` is alive now."""
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"last_seen": timezone.now()}
    )
    return heartbeat


def worker_is_alive() -> bool:
    """True when some worker ran the heartbeat recently (beat runs it every 30 s)."""
    cutoff = timezone.now() - HEARTBEAT_STALE_AFTER
    return WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).exists()
