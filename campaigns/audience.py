"""Who a campaign reaches: its lists minus its exclusion lists (selectors, no writes)."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from campaigns.models import Campaign
from contacts.models import Contact, ListMembership


@dataclass(frozen=True)
class AudienceSummary:
    """Audience size and what is excluded, for previews and the wizard's live count."""

    total: int
    eligible: int
    opted_out: int
    excluded_by_list: int


def _included(campaign: Campaign) -> QuerySet[Contact]:
    """Contacts in any of the campaign's lists or in its segment (before exclusions)."""
    members = ListMembership.objects.filter(contact_list__in=campaign.lists.all())
    included = Q(id__in=members.values("contact_id"))
    if (segment := campaign.segment) is not None:
        from campaigns.segments import segment_q

        # As of the launch, so a resumed freeze selects the same people.
        now = campaign.launched_at or timezone.now()
        included |= segment_q(segment.rules, now=now)
    return Contact.objects.filter(included)


def audience_contacts(campaign: Campaign) -> QuerySet[Contact]:
    """Contacts in any of the campaign's lists (or its segment) and in none of its exclusions."""
    contacts = _included(campaign)
    excluded = campaign.exclude_lists.all()
    if excluded.exists():
        contacts = contacts.exclude(
            id__in=ListMembership.objects.filter(contact_list__in=excluded).values("contact_id")
        )
    if (exclude_segment := campaign.exclude_segment) is not None:
        from campaigns.segments import segment_q

        now = campaign.launched_at or timezone.now()
        contacts = contacts.exclude(segment_q(exclude_segment.rules, now=now))
    return contacts


def audience_summary(campaign: Campaign) -> AudienceSummary:
    """Counts for the audience (a handful of COUNT queries, none per contact)."""
    total_before_exclusion = _included(campaign).count()
    contacts = audience_contacts(campaign)
    total = contacts.count()
    opted_out = contacts.filter(opted_out=True).count()
    return AudienceSummary(
        total=total,
        eligible=total - opted_out,
        opted_out=opted_out,
        excluded_by_list=total_before_exclusion - total,
    )
