"""A period's conversions recomputed under another rule, beside the stored credits.

Changing the windows applies forward: credits already stored keep the rule that made them.
To see what another rule would have said, `attribution recompute` runs the same attribution
over a period's conversions under the candidate rule and prints both side by side, per
campaign — it writes nothing, so past figures never change behind anyone's back.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from conversions.attribution import Claim, attribute
from conversions.models import AttributionRule, Conversion, Credit

BATCH = 2_000


@dataclass
class Side:
    conversions: int = 0
    revenue: Decimal = Decimal(0)


@dataclass
class Comparison:
    """Per campaign (None: credited to nothing), the stored figures and the candidate's."""

    conversions: int = 0
    changed: int = 0
    stored: dict[int | None, Side] = field(default_factory=lambda: defaultdict(Side))
    candidate: dict[int | None, Side] = field(default_factory=lambda: defaultdict(Side))
    stored_rules: set[int] = field(default_factory=set)

    def document(self, rule: AttributionRule) -> dict[str, Any]:
        keys = sorted(set(self.stored) | set(self.candidate), key=lambda k: (k is None, k or 0))
        return {
            "conversions": self.conversions,
            "changed": self.changed,
            "stored_rules": [f"r{pk}" for pk in sorted(self.stored_rules)],
            "candidate_rule": rule.describe(),
            "campaigns": [
                {
                    "campaign": key,
                    "stored": {
                        "conversions": self.stored[key].conversions,
                        "revenue": f"{self.stored[key].revenue:.2f}",
                    },
                    "candidate": {
                        "conversions": self.candidate[key].conversions,
                        "revenue": f"{self.candidate[key].revenue:.2f}",
                    },
                }
                for key in keys
            ],
        }


def attribution_compare(
    *, start: dt.datetime, end: dt.datetime, rule: AttributionRule
) -> Comparison:
    """The period's stored credits against `rule`'s, per campaign (reads only)."""
    comparison = Comparison()
    conversions = Conversion.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    last = 0
    while True:
        batch = list(conversions.filter(id__gt=last).order_by("id")[:BATCH])
        if not batch:
            return comparison
        last = batch[-1].pk
        stored = {
            c.conversion_id: c
            for c in Credit.objects.filter(conversion__in=batch, current=True).only(
                "conversion_id", "campaign_id", "message_id", "rule_id"
            )
        }
        claims = [Claim(c.pk, c.contact_id, c.occurred_at, c.token, c.coupon) for c in batch]
        decisions = {d.conversion_id: d for d in attribute(claims=claims, rule=rule)}
        for conversion in batch:
            credit = stored.get(conversion.pk)
            decision = decisions[conversion.pk]
            before = credit.campaign_id if credit else None
            comparison.conversions += 1
            comparison.stored[before].conversions += 1
            comparison.stored[before].revenue += conversion.value
            comparison.candidate[decision.campaign_id].conversions += 1
            comparison.candidate[decision.campaign_id].revenue += conversion.value
            if credit is not None:
                comparison.stored_rules.add(credit.rule_id)
            if (credit.message_id if credit else None) != decision.message_id or (
                before != decision.campaign_id
            ):
                comparison.changed += 1
