"""Core services: worker liveness."""

import datetime as dt

from django.utils import timezone

from core.models import InfobipConnection, WorkerHeartbeat

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


def infobip_connection_check() -> InfobipConnection:
    """Check the Infobip base URL and key now and record the outcome in plain words."""
    from django.conf import settings

    from infobip.client import get_client
    from infobip.errors import (
        InfobipAuthError,
        InfobipConfigError,
        InfobipConnectionError,
        InfobipError,
    )

    ok, reason, status = True, "", None
    base_url = (
        settings.INFOBIP_SANDBOX_URL if settings.INFOBIP_SANDBOX else settings.INFOBIP_BASE_URL
    )
    try:
        client = get_client()
        base_url = client.base_url
        client.check_credentials()
    except InfobipAuthError as exc:
        ok, status = False, exc.status_code
        reason = (
            "the API key lacks a scope Herald needs (403): give it sms:message:send, "
            "sms:logs:read, whatsapp:message:send and whatsapp:manage"
            if exc.status_code == 403
            else "the API key is invalid (401): check INFOBIP_API_KEY"
        )
    except (InfobipConnectionError, InfobipConfigError) as exc:
        ok, status = False, exc.status_code
        reason = f"the base URL {base_url} is unreachable: {exc.description}"
    except InfobipError as exc:
        ok, status = False, exc.status_code
        reason = f"Infobip answered unexpectedly: {exc.description}"
    state, _ = InfobipConnection.objects.update_or_create(
        pk=1,
        defaults={"ok": ok, "reason": reason[:500], "status_code": status,
                  "base_url": str(base_url)[:300], "checked_at": timezone.now()},
    )  # fmt: skip
    return state


def infobip_connection_state() -> dict | None:
    """The last recorded check, JSON-ready (None before the first check)."""
    state = InfobipConnection.objects.filter(pk=1).first()
    if state is None:
        return None
    return {"ok": state.ok, "reason": state.reason, "checked_at": state.checked_at.isoformat()}
