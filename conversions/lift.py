"""Lift over a holdout, honestly: what those sent did against those sent nothing.

Credit (attribution) says which message a conversion is given to; lift says how much more the
campaign's recipients converted than a random holdout who got nothing, whatever they were
credited to. Both groups are counted as drawn (intention to treat): everyone the campaign
meant to send (variants and the winner's rest) against everyone held out, with the
conversions each made from launch until HERALD_LIFT_WINDOW later (or now).

Figures: the conversion rate of each group and their difference with a 95 % interval
(Newcombe's method from two Wilson intervals, sound with small counts), the relative lift,
the incremental conversions (difference × people sent), and revenue per person with the
difference's 95 % interval (normal approximation with each group's own variance: Welch).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign, SplitGroup, SplitTest

Z95 = 1.959964

# Conversions in the window of the campaign's people, per group and person: the group of a
# person is their original row's (holdout, or sent: a message's content, or no split at all).
# One pass over the window's conversions, each joined to the ledger by its contact.
MEMBERS_SQL = """
SELECT (m.split_group = 0) AS held, c.contact_id, count(*), sum(c.value)
  FROM conversions_conversion c
  JOIN campaigns_message m
    ON m.contact_id = c.contact_id AND m.campaign_id = %(campaign)s
   AND m.attempt = 1 AND m.replaces_id IS NULL
   AND (m.split_group = 0 OR m.split_group IS NULL OR m.variant IS NOT NULL)
 WHERE c.occurred_at >= %(start)s AND c.occurred_at < %(end)s
 GROUP BY 1, 2
"""


@dataclass(frozen=True)
class Group:
    """One side of the comparison: people, people who converted, revenue and its squares."""

    people: int
    converters: int
    revenue: float
    revenue_squares: float
    conversions: int = 0

    @property
    def rate(self) -> float:
        return self.converters / self.people if self.people else 0.0

    @property
    def per_person(self) -> float:
        return self.revenue / self.people if self.people else 0.0

    def variance(self) -> float:
        """The sample variance of revenue per person (zeros for those who did not convert)."""
        if self.people < 2:
            return 0.0
        mean = self.per_person
        return max((self.revenue_squares - self.people * mean * mean) / (self.people - 1), 0.0)


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + Z95 * Z95 / (2 * n)) / (1 + Z95 * Z95 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 * Z95 / (4 * n * n)) / (1 + Z95 * Z95 / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def newcombe(sent: Group, held: Group) -> tuple[float, float]:
    """95 % interval of the difference of two rates (Newcombe 1998, method 10)."""
    p1, p2 = sent.rate, held.rate
    l1, u1 = wilson(sent.converters, sent.people)
    l2, u2 = wilson(held.converters, held.people)
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt(
        (u1 - p1) ** 2 + (p2 - l2) ** 2
    )


def lift_figures(sent: Group, held: Group) -> dict[str, Any]:
    """The comparison as the status document shows it (rates as fractions, money as text)."""
    low, high = newcombe(sent, held)
    difference = sent.rate - held.rate
    revenue_difference = sent.per_person - held.per_person
    spread = math.sqrt(
        (sent.variance() / sent.people if sent.people else 0.0)
        + (held.variance() / held.people if held.people else 0.0)
    )
    return {
        "sent": _group(sent),
        "holdout": _group(held),
        "conversion_rate_difference": round(difference, 6),
        "conversion_rate_difference_ci95": [round(low, 6), round(high, 6)],
        "relative_lift": round(sent.rate / held.rate - 1, 4) if held.rate else None,
        "incremental_conversions": round(difference * sent.people, 1),
        "incremental_conversions_ci95": [round(low * sent.people, 1), round(high * sent.people, 1)],
        "revenue_per_person_difference": f"{revenue_difference:.4f}",
        "revenue_per_person_difference_ci95": [
            f"{revenue_difference - Z95 * spread:.4f}",
            f"{revenue_difference + Z95 * spread:.4f}",
        ],
        "significant": low > 0 or high < 0,
    }


def _group(group: Group) -> dict[str, Any]:
    return {
        "people": group.people,
        "converters": group.converters,
        "conversions": group.conversions,
        "conversion_rate": round(group.rate, 6),
        "revenue": f"{group.revenue:.2f}",
        "revenue_per_person": f"{group.per_person:.4f}",
    }


def campaign_lift(*, campaign: Campaign, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """The campaign's lift over its holdout, or None without a holdout (or before launch)."""
    split = SplitTest.objects.filter(campaign=campaign).first()
    if split is None or not split.holdout or campaign.launched_at is None:
        return None
    now = now or timezone.now()
    start = campaign.launched_at
    end = min(now, start + settings.HERALD_LIFT_WINDOW)
    people = _people(campaign, split)
    per_group: dict[bool, list[tuple[int, Decimal]]] = {True: [], False: []}
    with connection.cursor() as cursor:
        cursor.execute(MEMBERS_SQL, {"campaign": campaign.pk, "start": start, "end": end})
        for held, _contact, count, revenue in cursor.fetchall():
            per_group[bool(held)].append((count, revenue or Decimal(0)))
    groups = {}
    for held in (False, True):
        rows = per_group[held]
        groups[held] = Group(
            people=people[held],
            converters=len(rows),
            revenue=float(sum((r for _, r in rows), Decimal(0))),
            revenue_squares=float(sum((r * r for _, r in rows), Decimal(0))),
            conversions=sum(n for n, _ in rows),
        )
    figures = lift_figures(groups[False], groups[True])
    figures["window"] = {"from": start.isoformat(), "to": end.isoformat()}
    return figures


def _people(campaign: Campaign, split: SplitTest) -> dict[bool, int]:
    """People sent (or meant to be) and held out, from the counters and the drawn plan."""
    from campaigns.models import Message, SplitRest

    plan = split.plan or {}
    held = plan.get("holdout")
    if held is None:
        held = Message.objects.filter(
            campaign=campaign, split_group=SplitGroup.HOLDOUT, attempt=1
        ).count()
    rest = plan.get("rest", 0)
    waiting = SplitRest.objects.filter(campaign=campaign).exists()
    # Everyone drawn into the rest is "sent" once a winner goes to them; not before, and not
    # when the decision was to send the rest nothing.
    rest_sent = (
        split.state == SplitTest.State.DONE
        and not waiting
        and (split.winner is not None or not split.decided_at)
    )
    variants = sum(plan.get("variants", [])) if plan.get("variants") else 0
    if not plan.get("variants"):
        sent = campaign.recipients - held
    else:
        sent = variants + (rest if rest_sent else 0)
    return {False: max(sent, 0), True: held}
