"""WhatsApp validity, enforced by Herald.

Infobip's WhatsApp endpoints (/whatsapp/1/message/text, /template, /image, /interactive/*)
have no validity field — only SMS does (`validityPeriod`, at most 48 h) — so a campaign's
`whatsapp_validity_minutes` is applied here: a WhatsApp message still without a final report
that long after Infobip accepted it becomes `expired`, which also starts its SMS failover
(Herald mode) like an expiry reported by Infobip would (the one expiry path, campaigns.expiry).
A report that arrives later is kept as an event; the state does not move back (forward-only
ledger).
"""

import datetime as dt

from django.utils import timezone

from campaigns.expiry import messages_expire
from campaigns.models import Campaign, Message

ROW_LIMIT = 5000
STATUS_NAME = "HERALD_VALIDITY_EXPIRED"


def messages_expire_past_validity(*, now: dt.datetime | None = None) -> int:
    """Expire accepted WhatsApp messages older than their campaign's WhatsApp validity."""
    now = now or timezone.now()
    campaigns = Campaign.objects.filter(
        whatsapp_validity_minutes__isnull=False, count_accepted__gt=0
    ).values_list("id", "whatsapp_validity_minutes")
    total = 0
    for campaign_id, minutes in campaigns:
        if minutes is None:  # excluded by the query; says so to the type checker
            continue
        cutoff = now - dt.timedelta(minutes=minutes)
        ids = Message.objects.filter(
            campaign_id=campaign_id, channel="whatsapp", state="accepted", accepted_at__lte=cutoff
        ).values_list("message_id", flat=True)[:ROW_LIMIT]
        total += messages_expire(
            message_ids=list(ids),
            status_name=STATUS_NAME,
            reason=f"no final report within the campaign's WhatsApp validity ({minutes} min)",
            now=now,
        )
    return total
