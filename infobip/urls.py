"""Infobip webhook URLs (Infobip → Herald), as docs/INTERFACE.md lists them (links.py builds)."""

from django.urls import path

from infobip.models import EventKind
from infobip.views import webhook

app_name = "infobip"

# links.WEBHOOK_KINDS ("sms/reports", ...) → the stored event kind.
KINDS = {
    "sms/reports": EventKind.SMS_REPORTS,
    "sms/inbound": EventKind.SMS_INBOUND,
    "whatsapp/reports": EventKind.WHATSAPP_REPORTS,
    "whatsapp/inbound": EventKind.WHATSAPP_INBOUND,
    "messages/reports": EventKind.MESSAGES_REPORTS,
    "messages/inbound": EventKind.MESSAGES_INBOUND,
    "clicks": EventKind.CLICKS,
}

urlpatterns = [
    path(
        f"webhooks/<str:token>/{suffix}/",
        webhook,
        {"kind": kind.value},
        name=f"webhook-{suffix.replace('/', '-')}",
    )
    for suffix, kind in KINDS.items()
]
