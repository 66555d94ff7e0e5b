"""Who a campaign reaches: its lists and segment, minus its exclusions (selectors, no writes).

Lists and a segment combine as the campaign's `audience_match` says: `any` (the people on the
lists and the people in the segment) or `all` (the people on the lists who are also in the
segment). Exclusion lists and an exclusion segment then take people out.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from campaigns.models import AudienceMatch, Campaign, Segment
from contacts.models import Contact, ContactList, ListMembership


@dataclass(frozen=True)
class AudienceSummary:
    """Audience size and what is excluded, for previews and the wizard's live count."""

    total: int
    eligible: int
    opted_out: int
    excluded_by_list: int
    excluded_by_country: int = 0


def audience_problem(
    *, lists: list[ContactList], segment: Segment | None, match: str
) -> str | None:
    """Why lists, a segment and how they combine make no audience (None when they do)."""
    if match not in AudienceMatch.values:
        return f"audience_match is one of {', '.join(AudienceMatch.values)}"
    if not lists and segment is None:
        return "the campaign needs at least one contact list or a segment"
    if match == AudienceMatch.ALL and (not lists or segment is None):
        return "“on the lists and in the segment” needs both lists and a segment"
    return None


def audience_q(
    *,
    list_ids: list[int],
    segment: Segment | None,
    match: str = AudienceMatch.ANY,
    now: dt.datetime,
) -> Q | None:
    """Who the lists and the segment select, before exclusions (None: nobody)."""
    from campaigns.segments import segment_condition

    on_lists = (
        Q(id__in=ListMembership.objects.filter(contact_list_id__in=list_ids).values("contact_id"))
        if list_ids
        else None
    )
    in_segment = Q(segment_condition(rules=segment.rules, now=now)) if segment else None
    if on_lists is None or in_segment is None:
        return on_lists or in_segment
    return on_lists & in_segment if match == AudienceMatch.ALL else on_lists | in_segment


def _excluded(
    contacts: QuerySet[Contact],
    *,
    exclude_ids: list[int],
    exclude_segment: Segment | None,
    now: dt.datetime,
) -> QuerySet[Contact]:
    from campaigns.segments import segment_condition

    if exclude_ids:
        excluded = ListMembership.objects.filter(contact_list_id__in=exclude_ids)
        contacts = contacts.exclude(id__in=excluded.values("contact_id"))
    if exclude_segment is not None:
        # Two-valued (campaigns/segment_sql.py): NOT of the segment is exactly everyone else.
        contacts = contacts.exclude(segment_condition(rules=exclude_segment.rules, now=now))
    return contacts


def _included(campaign: Campaign, now: dt.datetime) -> QuerySet[Contact]:
    """Contacts the campaign's lists and segment select (before exclusions)."""
    included = audience_q(
        list_ids=list(campaign.lists.values_list("pk", flat=True)),
        segment=campaign.segment,
        match=campaign.audience_match,
        now=now,
    )
    return Contact.objects.none() if included is None else Contact.objects.filter(included)


def audience_contacts(campaign: Campaign, *, countries: bool = True) -> QuerySet[Contact]:
    """Contacts the campaign reaches: its lists and segment, none of its exclusions.

    `countries=False` keeps the excluded destination countries in (to count them).
    """
    # As of the launch, so a resumed freeze selects the same people.
    now = campaign.launched_at or timezone.now()
    contacts = _excluded(
        _included(campaign, now),
        exclude_ids=list(campaign.exclude_lists.values_list("pk", flat=True)),
        exclude_segment=campaign.exclude_segment,
        now=now,
    )
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
    now = campaign.launched_at or timezone.now()
    total_before_exclusion = _included(campaign, now).count()
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
    match: str = AudienceMatch.ANY,
) -> AudienceSummary:
    """audience_summary for an audience not saved yet (the wizard's live count): same rules."""
    now = timezone.now()
    included = audience_q(list_ids=list_ids, segment=segment, match=match, now=now)
    everyone = Contact.objects.none() if included is None else Contact.objects.filter(included)
    contacts = _excluded(
        everyone, exclude_ids=exclude_ids, exclude_segment=exclude_segment, now=now
    )
    before, total = everyone.count(), contacts.count()
    opted_out = contacts.filter(opted_out=True).count()
    return AudienceSummary(
        total=total,
        eligible=total - opted_out,
        opted_out=opted_out,
        excluded_by_list=before - total,
    )


def audience_preview_contacts(
    *,
    list_ids: list[int],
    segment: Segment | None,
    match: str = AudienceMatch.ANY,
) -> QuerySet[Contact]:
    """The contacts of an audience being chosen, before exclusions (for samples of values)."""
    included = audience_q(list_ids=list_ids, segment=segment, match=match, now=timezone.now())
    return Contact.objects.none() if included is None else Contact.objects.filter(included)
