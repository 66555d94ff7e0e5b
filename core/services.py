"""Core services: worker and beat liveness, and the audit trail."""

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.models import AuditEntry, InfobipConnection, SchedulerTick, WorkerHeartbeat
from core.rules import Actor, actor_label, actor_user


def alive_within() -> dt.timedelta:
    """How fresh a heartbeat or a beat tick must be to count as alive: 3 sweep intervals."""
    return dt.timedelta(seconds=3 * settings.HERALD_SWEEP_INTERVAL)


def worker_heartbeat_record(*, hostname: str, queue: str = "") -> WorkerHeartbeat:
    """Record that the worker `hostname` just ran the heartbeat sent to `queue`."""
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        hostname=hostname[:255], queue=queue[:64], defaults={"last_seen": timezone.now()}
    )
    return heartbeat


def scheduler_tick_record(*, hostname: str) -> None:
    """Record that beat on `hostname` woke up now."""
    SchedulerTick.objects.update_or_create(
        hostname=hostname[:255], defaults={"last_tick": timezone.now()}
    )


def worker_is_alive() -> bool:
    """True when some worker ran a heartbeat within the last 3 sweep intervals."""
    cutoff = timezone.now() - alive_within()
    return WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).exists()


def audit_record(
    *,
    actor: Actor | Any,
    action: str,
    campaign: Any = None,
    contact: Any = None,
    detail: str = "",
    content: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit entry: who did what, on which campaign or contact."""
    return AuditEntry.objects.create(
        actor=actor_user(actor),
        actor_name=actor_label(actor)[:150],
        action=action[:32],
        campaign=campaign,
        contact=contact,
        detail=detail[:500],
        content=content,
    )


def infobip_connection_state() -> dict[str, object] | None:
    """The last recorded check, JSON-ready (None before the first check)."""
    state = InfobipConnection.objects.filter(pk=1).first()
    if state is None:
        return None
    return {"ok": state.ok, "reason": state.reason, "checked_at": state.checked_at.isoformat()}
