"""Read-only queries the pages need that no app exposes (no writes here)."""

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any, NotRequired, TypedDict

from django.contrib.auth.models import User
from django.db.models import Count, Model, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from campaigns.audience import AudienceSummary, audience_counts_for, audience_preview_contacts
from campaigns.models import AudienceMatch, Campaign, Message, Segment
from campaigns.people import campaign_people
from campaigns.rendering import CONTACT_FIELDS
from campaigns.services import campaign_live_counts
from campaigns.states import CampaignState
from contacts.attributes import KEY_RE, AttributeType
from contacts.models import ConsentAction, ConsentEvent, Contact
from contacts.services import attribute_types
from infobip.models import InboundMessage, KeywordAction

FINAL_FAILED = ("undeliverable", "expired", "rejected", "failed")


def audience_counts(
    *,
    list_ids: Iterable[int],
    exclude_ids: Iterable[int],
    segment: Segment | None = None,
    exclude_segment: Segment | None = None,
    match: str = AudienceMatch.ANY,
) -> AudienceSummary:
    """campaigns.audience.audience_summary for lists and segments chosen in the wizard."""
    return audience_counts_for(
        list_ids=list(list_ids),
        exclude_ids=list(exclude_ids),
        segment=segment,
        exclude_segment=exclude_segment,
        match=match,
    )


def campaign_progress(campaign: Campaign) -> dict[str, Any]:
    """Figures for progress bars and charts, from the counters and the batches in flight."""
    counts = campaign_live_counts(campaign)
    total = sum(counts.values())
    done = total - counts["queued"] - counts["sending"]
    finished = campaign.state in (CampaignState.COMPLETED, CampaignState.CANCELLED)
    # Progress counts people, not messages: failover or fallback attempts joining the ledger
    # never move it backwards (campaigns.people).
    people = campaign_people(campaign=campaign)
    percent = 100 if finished and total else people.percent
    settled = counts["delivered"] + sum(counts[s] for s in FINAL_FAILED)
    return {
        "counts": counts,
        "people": people,
        "total": total,
        "done": done,
        "percent": percent,
        "failed": sum(counts[s] for s in FINAL_FAILED),
        "delivery_rate": round(counts["delivered"] * 100 / settled, 1) if settled else None,
        # Also live while sent messages still wait for their report (a campaign completes
        # when nothing is left to send, before the last delivery reports arrive).
        "live": campaign.state in (CampaignState.RUNNING, CampaignState.SCHEDULED)
        or (campaign.state != CampaignState.DRAFT and counts["accepted"] > 0),
        "waiting": _quiet_hours_waiting(campaign) if counts["queued"] else None,
    }


def _quiet_hours_waiting(campaign: Campaign) -> dict[str, Any] | None:
    from campaigns.quiet import quiet_hours_waiting

    return quiet_hours_waiting(campaign_id=campaign.pk, now=timezone.now())


def dashboard_figures(*, days: int = 7) -> dict[str, Any]:
    """Opt-outs and inbound messages per day over the last `days` days."""
    since = timezone.now() - dt.timedelta(days=days)
    today = timezone.localdate()
    labels = [today - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]

    def per_day(queryset: QuerySet[Model], field: str) -> list[int]:
        rows = (
            queryset.annotate(day=TruncDate(field))
            .values("day")
            .annotate(n=Count("id"))
            .values_list("day", "n")
        )
        found = dict(rows)
        return [found.get(day, 0) for day in labels]

    opt_outs = ConsentEvent.objects.filter(action=ConsentAction.OPT_OUT, created_at__gte=since)
    inbound = InboundMessage.objects.filter(received_at__gte=since)
    return {
        "labels": [day.strftime("%a %d") for day in labels],
        "opt_outs": per_day(opt_outs, "created_at"),
        "inbound": per_day(inbound, "received_at"),
    }


class ThreadItem(TypedDict):
    """One message of a contact's conversation, as the contact and thread pages read it."""

    at: dt.datetime
    direction: str  # "out" | "in"
    channel: str
    text: str
    state: str
    campaign: Campaign | None
    # thread_items adds these: its kind ("campaign", "inbound", "automatic", "reply"), the
    # keyword an inbound message matched, and for replies their delivery and who sent them.
    kind: NotRequired[str]
    keyword: NotRequired[str]
    status: NotRequired[str]
    error: NotRequired[str]
    reason: NotRequired[str]
    by: NotRequired[User | None]


def conversation(contact: Contact, *, limit: int = 50) -> list[ThreadItem]:
    """The latest messages to and from a contact, oldest first."""
    # Inbox replies are ledger rows too; the thread shows them as replies (thread_items).
    sent = (
        Message.objects.filter(contact=contact, campaign__inbox_reply__isnull=True)
        .select_related("campaign")
        .order_by("-id")
    )
    received = InboundMessage.objects.filter(contact=contact).order_by("-received_at")
    items: list[ThreadItem] = [
        {
            "at": m.accepted_at or m.created_at,
            "direction": "out",
            "channel": m.channel,
            "text": m.text or (m.template_values and "(WhatsApp template)") or "",
            "state": m.state,
            "campaign": m.campaign,
        }
        for m in sent[:limit]
    ]
    items += [
        {
            "at": m.received_at,
            "direction": "in",
            "channel": m.channel,
            "text": m.text,
            "state": m.keyword_action,
            "campaign": None,
        }
        for m in received[:limit]
    ]
    items.sort(key=lambda item: item["at"])
    return items[-limit:]


def _audience_contacts(
    list_ids: Iterable[int], segment_id: int | None = None, match: str = AudienceMatch.ANY
) -> QuerySet[Contact]:
    """The lists' members and the segment's contacts, combined as campaigns.audience does."""
    segment = Segment.objects.filter(pk=segment_id).first() if segment_id is not None else None
    return audience_preview_contacts(list_ids=list(list_ids), segment=segment, match=match)


def attribute_keys_known(sample: int = 1000) -> dict[str, str]:
    """Attribute keys a segment rule may use, with their type: the declared ones, and the keys
    found on the newest and oldest `sample` contacts (text unless declared)."""
    keys: set[str] = set()
    for order in ("id", "-id"):
        for attributes in Contact.objects.order_by(order).values_list("attributes", flat=True)[
            :sample
        ]:
            if isinstance(attributes, dict):
                keys.update(str(k) for k in attributes if KEY_RE.match(str(k)))
    found = dict.fromkeys(sorted(keys - set(CONTACT_FIELDS)), AttributeType.TEXT.value)
    return {**found, **attribute_types()}


def audience_attribute_keys(
    *,
    list_ids: Iterable[int],
    segment_id: int | None = None,
    match: str = AudienceMatch.ANY,
    sample: int = 1000,
) -> list[str]:
    """Attribute (CSV column) names found on the audience: the oldest and newest `sample`."""
    # An import gives all its rows the same columns: both ends of the audience see every import
    # that built it, without reading a million rows' JSON.
    contacts = _audience_contacts(list_ids, segment_id, match)
    keys: set[str] = set()
    for order in ("id", "-id"):
        for attributes in contacts.order_by(order).values_list("attributes", flat=True)[:sample]:
            if isinstance(attributes, dict):
                keys.update(str(k) for k in attributes)
    return sorted(keys - set(CONTACT_FIELDS))


def rendered_range(
    *,
    text: str,
    list_ids: Iterable[int],
    segment_id: int | None = None,
    match: str = AudienceMatch.ANY,
    sample: int = 200,
) -> dict[str, Any] | None:
    """What recipients receive: shortest and longest rendered text over an audience sample."""
    from campaigns.rendering import compile_template, contact_values, sms_segments
    from channels.gsm import SmsEncoding

    template = compile_template(text)
    if not template.names:
        return None
    lengths: list[SmsEncoding] = []
    missing = 0
    audience = _audience_contacts(list_ids, segment_id, match).filter(opted_out=False)
    for contact in audience.order_by("id")[:sample]:
        rendered = template.render(contact_values(contact, template.names))
        if rendered.missing:
            missing += 1
            continue
        lengths.append(sms_segments(rendered.text))
    if not lengths:
        return {"sampled": 0, "missing": missing}
    shortest = min(lengths, key=lambda seg: (seg.parts, seg.length))
    longest = max(lengths, key=lambda seg: (seg.parts, seg.length))
    return {
        "sampled": len(lengths),
        "missing": missing,
        "min_length": min(seg.length for seg in lengths),
        "max_length": max(seg.length for seg in lengths),
        "min_parts": shortest.parts,
        "max_parts": longest.parts,
        "longest": longest,
    }


def inbox_threads(*, show: str = "", limit: int = 100) -> list[dict[str, Any]]:
    """One row per contact who wrote to us, latest activity first, with unread/handled state."""
    from django.db.models import Max

    from inbox.models import ConversationState

    latest = (
        InboundMessage.objects.filter(contact__isnull=False)
        .values("contact_id")
        .annotate(last=Max("received_at"), count=Count("id"))
        .order_by("-last")
    )
    rows = list(latest[: limit * 3 if show else limit])
    contact_ids = [row["contact_id"] for row in rows]
    contacts = Contact.objects.in_bulk(contact_ids)
    states = {s.contact_id: s for s in ConversationState.objects.filter(contact_id__in=contact_ids)}
    last_messages: dict[int, InboundMessage] = {}
    for message in InboundMessage.objects.filter(contact_id__in=contact_ids).order_by(
        "contact_id", "-received_at", "-id"
    ):
        if message.contact_id is not None:  # the filter above; the type cannot say so
            last_messages.setdefault(message.contact_id, message)
    threads = []
    for row in rows:
        state = states.get(row["contact_id"])
        unread = state is None or state.read_at is None or state.read_at < row["last"]
        handled = bool(state and state.handled_at and state.handled_at >= row["last"])
        if (show == "unread" and not unread) or (show == "open" and handled):
            continue
        threads.append(
            {
                "contact": contacts[row["contact_id"]],
                "last_at": row["last"],
                "count": row["count"],
                "last": last_messages.get(row["contact_id"]),
                "unread": unread,
                "handled": handled,
            }
        )
    return threads[:limit]


def thread_items(contact: Contact, *, limit: int = 100) -> list[ThreadItem]:
    """A contact's conversation, oldest first: campaign messages, inbound (keywords marked),
    Herald's automatic keyword replies and the replies people sent from the inbox."""
    from inbox.models import ConversationReply

    items = conversation(contact, limit=limit)
    for item in items:
        item["kind"] = "campaign" if item["direction"] == "out" else "inbound"
        action = item["state"] if item["direction"] == "in" else ""
        item["keyword"] = (
            KeywordAction(action).label if action and action in KeywordAction.values else ""
        )
    inbound = InboundMessage.objects.filter(contact=contact, reply_sent_at__isnull=False)
    for message in inbound.order_by("-received_at")[:limit]:
        if message.reply_sent_at is None:  # the filter above; the type cannot say so
            continue
        items.append(
            {
                "at": message.reply_sent_at,
                "direction": "out",
                "channel": message.channel,
                "text": message.reply_text,
                "state": message.reply_status,
                "campaign": None,
                "kind": "automatic",
                "keyword": "",
            }
        )
    replies = list(
        ConversationReply.objects.filter(contact=contact).select_related("sent_by")[:limit]
    )
    # Each reply's delivery state from its ledger row (one query for the thread).
    ledger = {
        str(row["message_id"]): row
        for row in Message.objects.filter(
            message_id__in=[r.message_id for r in replies if _is_uuid(r.message_id)]
        ).values("message_id", "state", "status_name", "error_name", "reason")
    }
    for reply in replies:
        row = ledger.get(reply.message_id)
        items.append(
            {
                "at": reply.sent_at,
                "direction": "out",
                "channel": reply.channel,
                "text": reply.text,
                "state": row["state"] if row else "",
                "status": (row and row["status_name"]) or reply.status_name,
                "error": row["error_name"] if row else "",
                "reason": row["reason"] if row else "",
                "campaign": None,
                "kind": "reply",
                "keyword": "",
                "by": reply.sent_by,
            }
        )
    items.sort(key=lambda item: item["at"])
    return items[-limit:]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def period_totals(*, days: int) -> dict[str, Any]:
    """Sent, delivered rate, spend, opt-outs and replies over the last `days` days.

    Message figures come from the counters of campaigns launched in the period (no ledger scan);
    opt-outs and replies from their own tables.
    """
    from django.db.models import Sum

    since = timezone.now() - dt.timedelta(days=days)
    campaigns = Campaign.objects.filter(launched_at__gte=since)
    sums = campaigns.aggregate(
        delivered=Sum("count_delivered"),
        accepted=Sum("count_accepted"),
        undeliverable=Sum("count_undeliverable"),
        expired=Sum("count_expired"),
        rejected=Sum("count_rejected"),
        failed=Sum("count_failed"),
        sending=Sum("count_sending"),
        spend=Sum("cost_amount"),
    )
    figures = {k: v or 0 for k, v in sums.items()}
    settled = figures["delivered"] + sum(figures[s] for s in FINAL_FAILED)
    sent = settled + figures["accepted"] + figures["sending"]
    currency = (
        campaigns.exclude(cost_currency="").values_list("cost_currency", flat=True).first() or "EUR"
    )
    return {
        "days": days,
        "campaigns": campaigns.count(),
        "sent": sent,
        "delivered": figures["delivered"],
        "delivery_rate": round(figures["delivered"] * 100 / settled, 1) if settled else None,
        "spend": figures["spend"],
        "currency": currency,
        "opt_outs": ConsentEvent.objects.filter(
            action=ConsentAction.OPT_OUT, created_at__gte=since
        ).count(),
        "replies": InboundMessage.objects.filter(received_at__gte=since).count(),
    }


def sent_per_day(*, days: int) -> dict[str, Any]:
    """Messages delivered and not delivered per launch day of the campaigns in the period."""
    from django.db.models import Sum

    since = timezone.now() - dt.timedelta(days=days)
    today = timezone.localdate()
    labels = [today - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]
    rows = (
        Campaign.objects.filter(launched_at__gte=since)
        .annotate(day=TruncDate("launched_at"))
        .values("day")
        .annotate(
            delivered=Sum("count_delivered"),
            failed=Sum("count_undeliverable")
            + Sum("count_expired")
            + Sum("count_rejected")
            + Sum("count_failed"),
        )
    )
    found = {row["day"]: (row["delivered"] or 0, row["failed"] or 0) for row in rows}
    return {
        "labels": [day.strftime("%a %d") for day in labels],
        "delivered": [found.get(day, (0, 0))[0] for day in labels],
        "failed": [found.get(day, (0, 0))[1] for day in labels],
    }


def audience_time_zones(
    *, list_ids: Iterable[int], segment_id: int | None = None, cap: int = 200
) -> list[str]:
    """The distinct time zones of an audience (the server's stands for contacts without one)."""
    from django.conf import settings

    contacts = _audience_contacts(list_ids, segment_id)
    zones = set(contacts.values_list("timezone", flat=True).distinct()[:cap])
    if "" in zones or not zones:
        zones.discard("")
        zones.add(settings.TIME_ZONE)
    return sorted(zones)
