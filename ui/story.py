"""Read-only figures for the campaign page: the funnel per recipient, why messages wait, and the
recipient groups ("undelivered", "clicked", "replied") the table, exports and new lists use.

Figures come from the campaign's counters where they exist; the few that need the ledger
(clicked, replied, opted out) start from the small side (clicks, inbound messages, consent events
since launch) and look their contacts up in the ledger once.
"""

import datetime as dt
import re
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from campaigns.clicks import campaign_click_counts
from campaigns.models import Campaign, Message, SenderThrottle
from campaigns.people import campaign_people
from campaigns.states import CampaignState, MessageState
from channels.registry import mediums
from contacts.models import ConsentAction, ConsentEvent
from infobip.models import InboundMessage

GROUPS = {
    "undelivered": "did not receive it",
    "delivered": "received it",
    "clicked": "clicked a link",
    "replied": "replied",
}
# Beyond this many replies/opt-outs since launch the funnel stops counting them one by one.
SCAN_CAP = 50_000


def _since_launch_contacts(campaign: Campaign, queryset: QuerySet[Model], field: str) -> list[int]:
    if campaign.launched_at is None:
        return []
    rows = queryset.filter(**{f"{field}__gte": campaign.launched_at}, contact_id__isnull=False)
    return list(rows.values_list("contact_id", flat=True).distinct()[:SCAN_CAP])


def _in_campaign(campaign: Campaign, contact_ids: list[int]) -> QuerySet[Message, int]:
    return (
        Message.objects.filter(campaign=campaign, contact_id__in=contact_ids)
        .values_list("contact_id", flat=True)
        .distinct()
    )


def campaign_funnel(campaign: Campaign) -> list[dict[str, Any]]:
    """Sent → delivered (reached, failover included) → clicked → replied → opted out, per person."""
    # People, across their attempts (campaigns.people): a person reached by the SMS failover,
    # a fallback channel or a resend is reached once.
    people = campaign_people(campaign=campaign)
    recipients = people.people
    skipped = people.skipped
    sent = max(recipients - skipped, 0)
    reached = people.reached
    clicked = campaign_click_counts(campaign_id=campaign.pk)["messages"]
    archived = campaign.history_archived_at is not None
    inbound = InboundMessage.objects.filter(contact__isnull=False)
    replied_ids = [] if archived else _since_launch_contacts(campaign, inbound, "received_at")
    replied = _in_campaign(campaign, replied_ids).count() if replied_ids else 0
    opt_outs = ConsentEvent.objects.filter(action=ConsentAction.OPT_OUT)
    opted_ids = [] if archived else _since_launch_contacts(campaign, opt_outs, "created_at")
    opted_out = _in_campaign(campaign, opted_ids).count() if opted_ids else 0

    def step(key: str, label: str, value: int, base: int, hint: str = "") -> dict[str, Any]:
        rate = round(value * 100 / base, 1) if base else None
        return {"key": key, "label": label, "value": value, "rate": rate, "hint": hint}

    failover = (
        f"{people.reached_by_fallback} of them by a fallback attempt"
        if people.attempts > people.people
        else ""
    )
    story = [
        step("sent", "Sent to", sent, recipients, f"{skipped} skipped" if skipped else ""),
        step("delivered", "Reached", reached, sent, failover),
        step("clicked", "Clicked", clicked, reached),
    ]
    if archived:
        # Who replied or opted out is matched against the campaign's rows, now in its history
        # file (campaigns/history.py): not shown rather than shown as nobody.
        return story
    story.append(step("replied", "Replied", replied, reached))
    story.append(step("opted_out", "Opted out", opted_out, reached))
    return story


def waiting_reasons(campaign: Campaign, now: dt.datetime | None = None) -> list[str]:
    """Why messages are not going out right now, in plain words (empty when nothing waits)."""
    now = now or timezone.now()
    waiting = campaign.count_queued
    reasons = []
    if campaign.state == CampaignState.SCHEDULED and campaign.send_at:
        when = timezone.localtime(campaign.send_at)
        reasons.append(f"Scheduled: sending starts at {when:%Y-%m-%d %H:%M %Z}.")
    if campaign.state == CampaignState.PAUSED:
        reasons.append(f"Paused: {waiting:,} messages wait until someone resumes the campaign.")
    if not waiting or campaign.state != CampaignState.RUNNING:
        return reasons
    if campaign.quiet_hours_start and campaign.quiet_hours_end:
        reasons.append(
            f"Quiet hours: messages only go between {campaign.quiet_hours_start:%H:%M} and "
            f"{campaign.quiet_hours_end:%H:%M} in each recipient's local time; the others wait."
        )
    if campaign.speed_limit:
        per_minute = campaign.speed_limit * (60 if campaign.speed_unit == "second" else 1)
        minutes = -(-waiting // per_minute)  # rounded up
        reasons.append(
            f"Speed limit: {campaign.speed_limit:,} messages {campaign.get_speed_unit_display()}"
            f", so the {waiting:,} waiting need about {minutes:,} min."
        )
    held = SenderThrottle.objects.filter(available_at__gt=now).order_by("-available_at").first()
    if held is not None:
        reasons.append(
            f"Infobip asked Herald to slow down: sending resumes at "
            f"{timezone.localtime(held.available_at):%H:%M:%S %Z}."
        )
    return reasons


def recipient_messages(
    campaign: Campaign, *, state: str = "", channel: str = "", q: str = "", group: str = ""
) -> QuerySet[Message]:
    """The campaign's ledger rows a filter shows (the table, the export, "make a list")."""
    rows = Message.objects.filter(campaign=campaign)
    if state in MessageState.values:
        rows = rows.filter(state=state)
    if channel in mediums():
        rows = rows.filter(channel=channel)
    q = q.strip()[:100]
    if q:
        digits = re.sub(r"[\s().+-]", "", q)
        match = Q(contact__first_name__icontains=q) | Q(contact__last_name__icontains=q)
        if digits.isdigit():
            match |= Q(phone__contains=digits.removeprefix("00"))
        rows = rows.filter(match)
    if group == "delivered":
        rows = rows.filter(state=MessageState.DELIVERED)
    elif group == "undelivered":
        reached = Message.objects.filter(campaign=campaign, state=MessageState.DELIVERED)
        rows = rows.exclude(contact_id__in=reached.values("contact_id")).exclude(
            state__in=[MessageState.QUEUED, MessageState.SENDING, MessageState.ACCEPTED]
        )
    elif group == "clicked":
        from infobip.models import Click

        rows = rows.filter(
            id__in=Click.objects.filter(campaign_id=campaign.pk).values("message_id")
        )
    elif group == "replied":
        ids = _since_launch_contacts(
            campaign, InboundMessage.objects.filter(contact__isnull=False), "received_at"
        )
        rows = rows.filter(contact_id__in=ids)
    return rows
