"""The campaign page's split test and conversions: read from what the sweep stored.

The probabilities come from the last evaluation (conversions/evaluate.py, every sweep while
testing): a page view runs no Monte Carlo and no aggregate over the test's rows, so the page
stays fast however large the campaign. Conversions are one indexed aggregate over credits.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings

from campaigns.models import Campaign, SplitTest, Variant, WinnerBy
from conversions.figures import campaign_conversions

STATE_TEXT = {
    SplitTest.State.PLANNED: "Not launched yet",
    SplitTest.State.TESTING: "Testing: the rest waits for the winner",
    SplitTest.State.RELEASING: "Decided: the winner is going to the rest",
    SplitTest.State.DONE: "Done",
}


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "—"


def campaign_split_panel(campaign: Campaign) -> dict[str, Any] | None:
    """Variants side by side with their figures and chances, the decision, the holdout's lift."""
    split = SplitTest.objects.filter(campaign=campaign).first()
    if split is None:
        return None
    evaluation = split.evaluation or {}
    figures = evaluation.get("figures", {})
    chances = evaluation.get("probabilities", {})
    metric = WinnerBy(split.winner_by)
    rows = []
    for variant in Variant.objects.filter(campaign=campaign).select_related("template"):
        f = figures.get(str(variant.position), {})
        delivered = f.get("delivered", 0)
        chance = chances.get(variant.name)
        rows.append(
            {
                "name": variant.name,
                "text": variant.text or (variant.template.name if variant.template else ""),
                "coupon": variant.coupon,
                "recipients": f.get("recipients", 0),
                "delivered": delivered,
                "clicks": f.get("clicks", 0),
                "click_rate": _rate(f.get("clicks", 0), delivered),
                "replies": f.get("replies", 0),
                "reply_rate": _rate(f.get("replies", 0), delivered),
                "conversions": f.get("conversions", 0),
                "revenue": f.get("revenue", "0.00"),
                "revenue_per_person": (
                    f"{Decimal(f.get('revenue', '0')) / delivered:.2f}" if delivered else "—"
                ),
                "chance": None if chance is None else round(100 * chance),
                "winner": split.winner == variant.position,
                "leader": evaluation.get("leader") == variant.name,
            }
        )
    decide_at = campaign.launched_at + split.decide_after if campaign.launched_at else None
    sizes = evaluation.get("sizes", {})
    plan = split.plan or {}
    return {
        "split": split,
        "state_text": STATE_TEXT[SplitTest.State(split.state)],
        "metric": metric.label.lower(),
        "rows": rows,
        "winner": next((r["name"] for r in rows if r["winner"]), None),
        "decide_at": decide_at,
        "evaluated_at": _when(evaluation.get("at")),
        "certain": evaluation.get("certain"),
        "holdout": sizes.get("holdout", plan.get("holdout", 0)),
        "waiting": sizes.get("waiting", plan.get("rest", 0) if split.state == "testing" else 0),
        "rest": sizes.get("rest", 0),
        "lift": _lift_lines(evaluation.get("lift")),
        "history": _history(split.history or [], [r["name"] for r in rows]),
        "min_per_variant": settings.HERALD_SPLIT_MIN_PER_VARIANT,
        "certainty": f"{settings.HERALD_SPLIT_CERTAINTY:.0%}",
    }


def _points(rate: float) -> str:
    """A rate difference in percentage points, signed."""
    return f"{100 * rate:+.1f}"


def _lift_lines(lift: dict[str, Any] | None) -> dict[str, Any] | None:
    """The lift in words and figures as the page shows them (percentages, intervals)."""
    if not lift:
        return None
    sent, held = lift["sent"], lift["holdout"]
    low, high = lift["conversion_rate_difference_ci95"]
    extra_low, extra_high = lift["incremental_conversions_ci95"]
    money_low, money_high = lift["revenue_per_person_difference_ci95"]
    relative = lift.get("relative_lift")
    verdict = (
        "the campaign made a difference"
        if lift.get("significant")
        else "not distinguishable from sending nothing yet"
    )
    lines = [
        ("Converted, sent",
         f"{sent['converters']:,} of {sent['people']:,} ({100 * sent['conversion_rate']:.1f} %)"),
        ("Converted, held out",
         f"{held['converters']:,} of {held['people']:,} ({100 * held['conversion_rate']:.1f} %)"),
        ("Difference",
         f"{_points(lift['conversion_rate_difference'])} points (95 % interval {_points(low)} to "
         f"{_points(high)}){f', {100 * relative:+.0f} % relative' if relative is not None else ''}"
         f" — {verdict}"),
        ("Extra conversions",
         f"{lift['incremental_conversions']:,} (95 %: {extra_low:,} to {extra_high:,})"),
        ("Revenue per person",
         f"{sent['revenue_per_person']} sent vs {held['revenue_per_person']} held out; difference "
         f"{lift['revenue_per_person_difference']} (95 %: {money_low} to {money_high})"),
    ]  # fmt: skip
    window = lift.get("window") or {}
    return {"lines": lines, "until": _when(window.get("to"))}


def _when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _history(points: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """Each variant's probability over the evaluations, as SVG polyline points (0–100)."""
    if len(points) < 2:
        return []
    step = 100 / (len(points) - 1)
    lines = []
    for name in names:
        coords = " ".join(
            f"{i * step:.1f},{100 - 100 * (p.get('p') or {}).get(name, 0):.1f}"
            for i, p in enumerate(points)
        )
        lines.append({"name": name, "points": coords})
    return lines


def campaign_conversions_card(campaign: Campaign) -> dict[str, Any]:
    """Conversions credited to the campaign, revenue, and per message and per unit spent."""
    figures = campaign_conversions(campaign=campaign)
    revenue = Decimal(str(figures["revenue"]))
    sent = (
        campaign.count_accepted
        + campaign.count_delivered
        + campaign.count_undeliverable
        + campaign.count_expired
        + campaign.count_rejected
    )
    return {
        "count": figures["count"],
        "revenue": f"{revenue:.2f}",
        "currency": settings.HERALD_PRICES.get("currency", "EUR"),
        "per_message": f"{revenue / sent:.3f}" if sent else None,
        "per_cost": f"{revenue / campaign.cost_amount:.1f}" if campaign.cost_amount else None,
    }
