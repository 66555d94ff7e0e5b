"""Who a campaign reaches: its lists minus its exclusion lists (selectors, no writes)."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from campaigns.models import Campaign, Segment
from contacts.models import Contact, ListMembership


@dataclass(frozen=True)
class AudienceSummary:
    """Audience size and what is excluded, for previews and the wizard's live count."""

    total: int
    eligible: int
    opted_out: int
    excluded_by_list: int
    excluded_by_country: int = 0


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


def audience_contacts(campaign: Campaign, *, countries: bool = True) -> QuerySet[Contact]:
    """Contacts in any of the campaign's lists (or its segment) and in none of its exclusions.

    `countries=False` keeps the excluded destination countries in (to count them).
    """
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
    if countries and (dropped := excluded_countries(campaign)):
        # Countries whose rules the campaign cannot meet, left out (campaigns/compliance.py).
        contacts = contacts.exclude(country__in=dropped)
    return contacts


def excluded_countries(campaign: Campaign) -> list[str]:
    """The campaign's excluded destination countries (ISO codes; anything else is ignored)."""
    raw = campaign.exclude_countries if isinstance(campaign.exclude_countries, list) else []
    return [c for c in raw if isinstance(c, str) and len(c) == 2]


def audience_summary(campaign: Campaign) -> AudienceSummary:
    """Counts for the audience (a handful of COUNT queries, none per contact)."""
    total_before_exclusion = _included(campaign).count()
    contacts = audience_contacts(campaign)
    total = contacts.count()
    opted_out = contacts.filter(opted_out=True).count()
    by_country = 0
    if excluded := excluded_countries(campaign):
        by_country = (
            audience_contacts(campaign, countries=False).filter(country__in=excluded).count()
        )
    return AudienceSummary(
        total=total,
        eligible=total - opted_out,
        opted_out=opted_out,
        excluded_by_list=total_before_exclusion - total - by_country,
        excluded_by_country=by_country,
    )


def audience_counts_for(
    *,
    list_ids: list[int],
    exclude_ids: list[int],
    segment: Segment | None = None,
    exclude_segment: Segment | None = None,
) -> AudienceSummary:
    """audience_summary for an audience not saved yet (the wizard's live count): same rules."""
    from campaigns.segments import segment_q

    now = timezone.now()
    members = ListMembership.objects.filter(contact_list_id__in=list_ids)
    included = Q(id__in=members.values("contact_id"))
    if segment is not None:
        included |= segment_q(segment.rules, now=now)
    everyone = Contact.objects.filter(included) if list_ids or segment else Contact.objects.none()
    contacts = everyone
    if exclude_ids:
        excluded = ListMembership.objects.filter(contact_list_id__in=exclude_ids)
        contacts = contacts.exclude(id__in=excluded.values("contact_id"))
    if exclude_segment is not None:
        contacts = contacts.exclude(segment_q(exclude_segment.rules, now=now))
    before, total = everyone.count(), contacts.count()
    opted_out = contacts.filter(opted_out=True).count()
    return AudienceSummary(
        total=total,
        eligible=total - opted_out,
        opted_out=opted_out,
        excluded_by_list=before - total,
    )
