"""Core services: worker liveness and the audit trail."""

import datetime as dt
from typing import Any

from django.utils import timezone

from core.models import AuditEntry, InfobipConnection, WorkerHeartbeat
from core.rules import Actor, actor_label, actor_user

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


def audit_record(
    *,
    actor: Actor | Any,
    action: str,
    campaign: Any = None,
    contact: Any = None,
    detail: str = "",
    content: dict | None = None,
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


def infobip_connection_state() -> dict | None:
    """The last recorded check, JSON-ready (None before the first check)."""
    state = InfobipConnection.objects.filter(pk=1).first()
    if state is None:
        return None
    return {"ok": state.ok, "reason": state.reason, "checked_at": state.checked_at.isoformat()}
