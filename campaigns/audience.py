"""Who a campaign reaches: its lists minus its exclusion lists (selectors, no writes)."""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from campaigns.models import Campaign
from contacts.models import Contact, ListMembership


@dataclass(frozen=True)
class AudienceSummary:
    """Audience size and what is excluded, for previews and the wizard's live count."""

    total: int
    eligible: int
    opted_out: int
    excluded_by_list: int


def audience_contacts(campaign: Campaign) -> QuerySet[Contact]:
    """Contacts in any of the campaign's lists and in none of its exclusion lists."""
    members = ListMembership.objects.filter(contact_list__in=campaign.lists.all())
    contacts = Contact.objects.filter(id__in=members.values("contact_id"))
    excluded = campaign.exclude_lists.all()
    if excluded.exists():
        contacts = contacts.exclude(
            id__in=ListMembership.objects.filter(contact_list__in=excluded).values("contact_id")
        )
    return contacts


def audience_summary(campaign: Campaign) -> AudienceSummary:
    """Counts for the audience (a handful of COUNT queries, none per contact)."""
    members = ListMembership.objects.filter(contact_list__in=campaign.lists.all())
    all_contacts = Contact.objects.filter(id__in=members.values("contact_id"))
    total_before_exclusion = all_contacts.count()
    contacts = audience_contacts(campaign)
    total = contacts.count()
    opted_out = contacts.filter(opted_out=True).count()
    return AudienceSummary(
        total=total,
        eligible=total - opted_out,
        opted_out=opted_out,
        excluded_by_list=total_before_exclusion - total,
    )


def quiet_hours_wait(
    campaign: Campaign, contact_timezone: str, now: dt.datetime
) -> dt.datetime | None:
    """When a message may go out under the campaign's quiet hours; None when it may go now.

    Quiet hours are a sending window in the recipient's local time (their timezone, else the
    project's): outside it the message waits for the window to open; it is never dropped.
    """
    start, end = campaign.quiet_hours_start, campaign.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    try:
        zone = zoneinfo.ZoneInfo(contact_timezone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    local = now.astimezone(zone)
    current = local.time()
    inside = start <= current < end if start < end else (current >= start or current < end)
    if inside:
        return None
    opens = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    if opens <= local:
        opens += dt.timedelta(days=1)
    return opens.astimezone(dt.UTC)
