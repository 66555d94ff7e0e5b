"""Frequency caps: at most N marketing messages per contact per channel per D days.

The rules are the workspace's (`HERALD_FREQUENCY_CAPS`, a JSON list such as
`[{"messages": 3, "days": 7, "channel": "sms"}]`; channel a medium of the channel registry —
`sms`, `whatsapp`, `viber`, `rcs` — or `any`). What
counts is the ledger: messages of other campaigns, resends included (a failover SMS is the
same message, not another one) that were or will be sent — queued, sending, accepted or final
after sending; skipped, failed and rejected rows were never sent. At freeze the capped are
`skipped` with the reason; the preview counts them. Both are one grouped query per chunk or
audience, over the ledger's (contact, created_at) index, never one per recipient.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from campaigns.models import Campaign, Message
from campaigns.steps import campaign_kind

# Ledger states of messages that were (or are about to be) sent to the person.
_SENT_STATES = ("queued", "sending", "accepted", "delivered", "undeliverable", "expired")
# The permission that lets a person lift the cap for one campaign: the launch permission
# (ui/roles.py "Sender"), as sending more than the rule allows is a sending decision.


ANY = "any"


@dataclass(frozen=True)
class Cap:
    messages: int
    days: int
    medium: str  # a medium (sms, whatsapp, viber, rcs…) or any

    @property
    def mediums(self) -> tuple[str, ...] | None:
        """The mediums the cap counts; None for every medium."""
        return None if self.medium == ANY else (self.medium,)

    def applies_to(self, medium: str) -> bool:
        """Whether messages on `medium` count against this cap."""
        return self.mediums is None or medium in self.mediums

    def label(self) -> str:
        where = f" {self.medium}" if self.mediums else ""
        return f"frequency cap: {self.messages}{where} messages in {self.days} days reached"


def caps_configured() -> list[Cap]:
    """The workspace's caps from settings (validated when settings load)."""
    return [
        Cap(int(rule["messages"]), int(rule["days"]), str(rule.get("channel", ANY)))
        for rule in settings.HERALD_FREQUENCY_CAPS
    ]


def ledger_channel(campaign: Campaign) -> str:
    """The medium the campaign's messages travel on (what a cap counts)."""
    return campaign_kind(campaign).ledger


def caps_for(campaign: Campaign) -> list[Cap]:
    """The caps that apply to this campaign's channel (none when overridden)."""
    if campaign.frequency_cap_override:
        return []
    medium = ledger_channel(campaign)
    return [cap for cap in caps_configured() if cap.applies_to(medium)]


def _over(
    cap: Cap,
    campaign: Campaign,
    contact_ids: Iterable[int] | QuerySet[Any, Any],
    now: dt.datetime,
) -> QuerySet[Any, Any]:
    rows = Message.objects.filter(
        contact_id__in=contact_ids,
        replaces__isnull=True,
        state__in=_SENT_STATES,
        created_at__gte=now - dt.timedelta(days=cap.days),
    ).exclude(campaign_id=campaign.pk)
    if cap.mediums is not None:
        rows = rows.filter(channel__in=cap.mediums)
    return (
        rows.values("contact_id")
        .annotate(n=Count("id"))
        .filter(n__gte=cap.messages)
        .values_list("contact_id", flat=True)
    )


def capped_contacts(
    *, campaign: Campaign, contact_ids: Iterable[int] | QuerySet[Any, Any], now: dt.datetime
) -> dict[int, str]:
    """contact id → skip reason, for the contacts (a chunk's ids, or an audience's id
    queryset, run as a subquery) that the caps hold back."""
    caps = caps_for(campaign)
    if not caps:
        return {}
    ids = contact_ids if isinstance(contact_ids, QuerySet) else list(contact_ids)
    capped: dict[int, str] = {}
    for cap in caps:
        for contact_id in _over(cap, campaign, ids, now):
            capped.setdefault(contact_id, cap.label())
    return capped


def capped_q(*, campaign: Campaign, contact_ids: QuerySet[Any, Any], now: dt.datetime) -> Q | None:
    """The caps as one condition on contacts (None without caps): the same grouped ledger
    queries as capped_contacts, as subqueries, for statements that count rather than list."""
    caps = caps_for(campaign)
    if not caps:
        return None
    condition = Q(id__in=_over(caps[0], campaign, contact_ids, now))
    for cap in caps[1:]:
        condition |= Q(id__in=_over(cap, campaign, contact_ids, now))
    return condition


def caps_free_at(
    *, channel: str, contact_ids: Iterable[int], now: dt.datetime
) -> dict[int, tuple[dt.datetime, str]]:
    """contact id → (when a message may go again, the cap's reason) for contacts at a cap.

    For messages that are sent as they fall due (a journey's send step) rather than frozen: a
    capped contact is not skipped but waits until the oldest message that fills the cap's
    window leaves it. One grouped query per cap over the ledger's (contact, created_at) index.
    """
    ids = list(contact_ids)
    caps = [cap for cap in caps_configured() if cap.applies_to(channel)]
    free: dict[int, tuple[dt.datetime, str]] = {}
    if not ids or not caps:
        return free
    for cap in caps:
        since = now - dt.timedelta(days=cap.days)
        rows = Message.objects.filter(
            contact_id__in=ids,
            replaces__isnull=True,
            state__in=_SENT_STATES,
            created_at__gte=since,
        )
        if cap.mediums is not None:
            rows = rows.filter(channel__in=cap.mediums)
        counted: dict[int, list[dt.datetime]] = {}
        for contact_id, created_at in rows.values_list("contact_id", "created_at"):
            counted.setdefault(contact_id, []).append(created_at)
        for contact_id, times in counted.items():
            if len(times) < cap.messages:
                continue
            # The cap frees when all but `messages - 1` of these have left the window.
            times.sort(reverse=True)
            at = times[cap.messages - 1] + dt.timedelta(days=cap.days)
            if contact_id not in free or at > free[contact_id][0]:
                free[contact_id] = (at, cap.label())
    return free
