"""Read-only queries the pages need that no app exposes (no writes here)."""

import datetime as dt
from collections.abc import Iterable

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from campaigns.audience import AudienceSummary
from campaigns.models import Campaign, Message
from campaigns.rendering import CONTACT_FIELDS
from campaigns.states import CampaignState
from contacts.models import ConsentAction, ConsentEvent, Contact, ListMembership
from infobip.models import InboundMessage

FINAL_FAILED = ("undeliverable", "expired", "rejected", "failed")


def audience_counts(*, list_ids: Iterable[int], exclude_ids: Iterable[int]) -> AudienceSummary:
    """campaigns.audience.audience_summary for lists chosen in the wizard (no campaign yet)."""
    list_ids, exclude_ids = list(list_ids), list(exclude_ids)
    members = ListMembership.objects.filter(contact_list_id__in=list_ids)
    everyone = Contact.objects.filter(id__in=members.values("contact_id"))
    contacts = everyone
    if exclude_ids:
        excluded = ListMembership.objects.filter(contact_list_id__in=exclude_ids)
        contacts = everyone.exclude(id__in=excluded.values("contact_id"))
    before, total = everyone.count(), contacts.count()
    opted_out = contacts.filter(opted_out=True).count()
    return AudienceSummary(
        total=total,
        eligible=total - opted_out,
        opted_out=opted_out,
        excluded_by_list=before - total,
    )


def campaign_progress(campaign: Campaign) -> dict:
    """Figures for progress bars and charts, from the denormalised counters only."""
    counts = campaign.counts
    total = sum(counts.values())
    done = total - counts["queued"] - counts["sending"]
    finished = campaign.state in (CampaignState.COMPLETED, CampaignState.CANCELLED)
    percent = 100 if finished and total else (int(done * 100 / total) if total else 0)
    settled = counts["delivered"] + sum(counts[s] for s in FINAL_FAILED)
    return {
        "counts": counts,
        "total": total,
        "done": done,
        "percent": percent,
        "failed": sum(counts[s] for s in FINAL_FAILED),
        "delivery_rate": round(counts["delivered"] * 100 / settled, 1) if settled else None,
        # Also live while sent messages still wait for their report (a campaign completes
        # when nothing is left to send, before the last delivery reports arrive).
        "live": campaign.state in (CampaignState.RUNNING, CampaignState.SCHEDULED)
        or (campaign.state != CampaignState.DRAFT and counts["accepted"] > 0),
    }


def dashboard_figures(*, days: int = 7) -> dict:
    """Opt-outs and inbound messages per day over the last `days` days."""
    since = timezone.now() - dt.timedelta(days=days)
    today = timezone.localdate()
    labels = [today - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]

    def per_day(queryset, field: str) -> list[int]:
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


def conversation(contact: Contact, *, limit: int = 50) -> list[dict]:
    """The latest messages to and from a contact, oldest first."""
    sent = Message.objects.filter(contact=contact).select_related("campaign").order_by("-id")
    received = InboundMessage.objects.filter(contact=contact).order_by("-received_at")
    items = [
        {
            "at": m.accepted_at or m.created_at,
            "direction": "out",
            "channel": m.channel,
            "text": m.text or (m.template_values and "(WhatsApp template)") or "",
            "state": m.state,
            "campaign": m.campaign,
        }
        for m in sent[:limit]
    ] + [
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


def _audience_contacts(list_ids: Iterable[int]):
    members = ListMembership.objects.filter(contact_list_id__in=list(list_ids))
    return Contact.objects.filter(id__in=members.values("contact_id"))


def audience_attribute_keys(*, list_ids: Iterable[int], sample: int = 1000) -> list[str]:
    """Attribute (CSV column) names found on the audience: the oldest and newest `sample`."""
    # An import gives all its rows the same columns: both ends of the audience see every import
    # that built it, without reading a million rows' JSON.
    contacts = _audience_contacts(list_ids)
    keys: set[str] = set()
    for order in ("id", "-id"):
        for attributes in contacts.order_by(order).values_list("attributes", flat=True)[:sample]:
            if isinstance(attributes, dict):
                keys.update(str(k) for k in attributes)
    return sorted(keys - set(CONTACT_FIELDS))


def rendered_range(*, text: str, list_ids: Iterable[int], sample: int = 200) -> dict | None:
    """What recipients receive: shortest and longest rendered text over an audience sample."""
    from campaigns.rendering import compile_template, contact_values, sms_segments

    template = compile_template(text)
    if not template.names:
        return None
    lengths: list = []
    missing = 0
    for contact in _audience_contacts(list_ids).filter(opted_out=False).order_by("id")[:sample]:
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
