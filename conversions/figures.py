"""Conversion figures of a campaign and its variants, from the stored credits (set-based)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q, Sum

from campaigns.models import Campaign, SplitGroup
from conversions.models import Credit


def campaign_conversions(*, campaign: Campaign) -> dict[str, object]:
    """Conversions credited to the campaign's messages (holdout members are never credited)."""
    totals = Credit.objects.filter(campaign=campaign, current=True).aggregate(
        count=Count("id"), revenue=Sum("conversion__value")
    )
    return {"count": totals["count"], "revenue": f"{totals['revenue'] or Decimal(0):.2f}"}


def variant_conversions(
    *, campaign: Campaign, group: int = SplitGroup.TEST
) -> dict[int, tuple[int, int, Decimal]]:
    """position → (conversions, people who converted, revenue) credited to a group's rows.

    A coupon credited without a message (a shared code) counts for its variant's test.
    """
    in_group = Q(message__split_group=group)
    if group == SplitGroup.TEST:
        in_group |= Q(message__isnull=True)
    rows = (
        Credit.objects.filter(campaign=campaign, current=True, variant__isnull=False)
        .filter(in_group)
        .values("variant")
        .annotate(
            n=Count("id"),
            people=Count("conversion__contact", distinct=True),
            revenue=Sum("conversion__value"),
        )
    )
    figures: dict[int, tuple[int, int, Decimal]] = {}
    for row in rows:
        figures[row["variant"] or 0] = (row["n"], row["people"], row["revenue"] or Decimal(0))
    return figures


def campaigns_conversion_figures(campaign_ids: list[int]) -> dict[int, dict[str, object]]:
    """For the reports (campaigns.analytics): credited conversions and revenue per campaign."""
    rows = (
        Credit.objects.filter(campaign_id__in=campaign_ids, current=True)
        .values("campaign_id")
        .annotate(n=Count("id"), revenue=Sum("conversion__value"))
    )
    return {
        row["campaign_id"]: {"conversions": row["n"], "revenue": row["revenue"] or Decimal(0)}
        for row in rows
    }
