"""Validity enforced by Herald, for the channel types Infobip keeps none for.

Infobip's WhatsApp endpoints (/whatsapp/1/message/text, /template, /image, /interactive/*)
have no validity field — SMS and the Messages API do (`validityPeriod`, at most 48 h) — so for
types whose `validity` is Herald's a campaign's `whatsapp_validity_minutes` is applied here: a
message still without a final report that long after Infobip accepted it becomes `expired`,
which also starts the next step of its fallback chain like an expiry reported by Infobip would
(the one expiry path, campaigns.expiry).
A report that arrives later is kept as an event; the state does not move back (forward-only
ledger).
"""

import datetime as dt

from django.utils import timezone

from campaigns.expiry import messages_expire
from campaigns.models import Campaign, Message
from channels.base import HERALD
from channels.registry import UnknownChannel, channel_type, channel_types

ROW_LIMIT = 5000
STATUS_NAME = "HERALD_VALIDITY_EXPIRED"


def messages_expire_past_validity(*, now: dt.datetime | None = None) -> int:
    """Expire accepted messages older than their campaign's validity, where Herald keeps it."""
    now = now or timezone.now()
    mediums = sorted({kind.ledger for kind in channel_types() if kind.validity == HERALD})
    campaigns = Campaign.objects.filter(
        whatsapp_validity_minutes__isnull=False, count_accepted__gt=0
    ).values_list("id", "whatsapp_validity_minutes", "channel")
    total = 0
    for campaign_id, minutes, channel in campaigns:
        if minutes is None:  # excluded by the query; says so to the type checker
            continue
        cutoff = now - dt.timedelta(minutes=minutes)
        ids = Message.objects.filter(
            campaign_id=campaign_id, channel__in=mediums, state="accepted", accepted_at__lte=cutoff
        ).values_list("message_id", flat=True)[:ROW_LIMIT]
        total += messages_expire(
            message_ids=list(ids),
            status_name=STATUS_NAME,
            reason=(
                f"no final report within the campaign's {_label(channel)} validity ({minutes} min)"
            ),
            now=now,
        )
    return total


def _label(channel: str) -> str:
    try:
        return channel_type(channel).medium_label
    except UnknownChannel:
        return channel
