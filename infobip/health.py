"""The Infobip connection's state: checked at worker start and every few minutes.

What Infobip connectors show their users: OK, or why not (invalid key, missing scope,
unreachable base URL). The state is a core model, so the dashboard and /healthz/ read it
without importing the provider.
"""

from django.conf import settings
from django.utils import timezone

from core.models import InfobipConnection
from infobip.client import get_client
from infobip.errors import (
    InfobipAuthError,
    InfobipConfigError,
    InfobipConnectionError,
    InfobipError,
)


def infobip_connection_check() -> InfobipConnection:
    """Check the Infobip base URL and key now and record the outcome in plain words."""
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
        defaults={
            "ok": ok,
            "reason": reason[:500],
            "status_code": status,
            "base_url": str(base_url)[:300],
            "checked_at": timezone.now(),
        },
    )
    return state
