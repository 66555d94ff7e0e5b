"""Figures other apps own about a journey's messages, by the send steps' campaigns.

A registry, as campaigns.analytics is for the campaign reports: conversions/ sits above
journeys/ (it credits a journey's messages, `attributed_to.journey`) and registers its
per-campaign conversions and revenue from its `AppConfig.ready()`; journeys/ reads them here
for the journey's status and the builder's send steps without importing upward.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings

from journeys.models import SendStep

# campaign ids → {campaign id: {"conversions": n, "revenue": Decimal}} (campaigns.analytics'
# FigureProvider shape, so one function serves both registries).
ConversionsProvider = Callable[[list[int]], dict[int, dict[str, object]]]
_PROVIDERS: list[ConversionsProvider] = []


def conversions_provider_register(provider: ConversionsProvider) -> None:
    """Add a source of per-campaign conversions and revenue (once per function)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def _figure(count: int, revenue: Decimal) -> dict[str, Any]:
    return {"count": count, "revenue": f"{revenue:.2f}"}


def journey_conversions(*, journey_id: int) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The journey's credited conversions ({"count", "revenue", "currency"}) and each send
    step's ({"count", "revenue"}, every version's campaign of that step id summed)."""
    step_of = dict(
        SendStep.objects.filter(version__journey_id=journey_id).values_list(
            "campaign_id", "step_id"
        )
    )
    counts: dict[str, int] = defaultdict(int)
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    if step_of:
        for provider in _PROVIDERS:
            for campaign_id, values in provider(sorted(step_of)).items():
                step_id = step_of.get(campaign_id)
                if step_id is None:
                    continue
                counts[step_id] += int(str(values.get("conversions") or 0))
                revenue[step_id] += Decimal(str(values.get("revenue") or 0))
    steps = {step_id: _figure(counts[step_id], revenue[step_id]) for step_id in step_of.values()}
    total = _figure(sum(counts.values()), sum(revenue.values(), Decimal(0)))
    total["currency"] = settings.HERALD_PRICES.get("currency", "EUR")
    return total, steps
