"""The wizard's split-test section (message step): more versions of the SMS, a holdout, a rule.

The main text is variant A; up to three more texts make a split test (on channels that send
text; a template campaign's section offers the holdout). What the marketer typed
is kept in the wizard's session state (`split`) and becomes campaigns.split's specs when the
draft is saved, so the rules are the service's (campaigns.split.split_spec_problems).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.http import QueryDict

from campaigns.models import Campaign, SplitTest, Variant, WinnerBy
from campaigns.split import SplitSpec, VariantSpec, split_spec_problems
from channels.registry import channel_names, channel_type

NAMES = ("A", "B", "C", "D")
DEFAULTS = {
    "share": "20",
    "holdout": "0",
    "winner_by": WinnerBy.CLICKS,
    "decide_hours": "4",
    "if_undecided": "leader",
}


def split_from_post(post: QueryDict) -> dict[str, Any]:
    """The section as typed (strings), for the session and to show again."""
    state: dict[str, Any] = {key: post.get(f"split_{key}", "").strip()[:20] for key in DEFAULTS}
    state["texts"] = [post.get(f"variant_{name}", "") for name in NAMES[1:]]
    state["coupons"] = [post.get(f"coupon_{name}", "").strip()[:64] for name in NAMES]
    state["on"] = post.get("split_on") == "1"
    return state


def split_specs(
    text: str, split: dict[str, Any] | None, channel: str = "sms"
) -> tuple[list[VariantSpec], SplitSpec | None, dict[str, str]]:
    """(variants, test, errors by field) from the main text and the section's state.

    The wizard's variants are SMS texts; a template campaign may have a holdout only (template
    variants: the API, the command line and the admin).
    """
    if not split or not split.get("on"):
        return [], None, {}
    errors: dict[str, str] = {}
    coupons = list(split.get("coupons") or [""] * 4) + [""] * 4
    uses_template = channel_type(channel).uses_template if channel in channel_names() else True
    texts = [text] if uses_template else [text, *(split.get("texts") or [])]
    variants = [
        VariantSpec(name=NAMES[i], text=t, coupon=coupons[i])
        for i, t in enumerate(texts)
        if i == 0 or t.strip()
    ]
    if len(variants) == 1:
        variants = []  # one text: a holdout alone, no test
    numbers: dict[str, int] = {}
    for key, label in (
        ("share", "test share"),
        ("holdout", "holdout"),
        ("decide_hours", "decision time"),
    ):
        raw = split.get(key) or DEFAULTS[key]
        if not raw.isdigit():
            errors[f"split_{key}"] = f"The {label} must be a whole number."
            continue
        numbers[key] = int(raw)
    if errors:
        return variants, None, errors
    test = SplitSpec(
        share=numbers["share"] if variants else 100,
        holdout=numbers["holdout"],
        winner_by=split.get("winner_by") or WinnerBy.CLICKS,
        decide_after=dt.timedelta(hours=numbers["decide_hours"]),
        if_undecided=split.get("if_undecided") or "leader",
    )
    problems = split_spec_problems(channel=channel, variants=variants, test=test)
    if problems:
        errors["split"] = "; ".join(p[0].upper() + p[1:] for p in problems) + "."
    return variants, test, errors


def split_state(campaign: Campaign) -> dict[str, Any] | None:
    """A saved campaign's split as the section shows it (None without one)."""
    split = SplitTest.objects.filter(campaign=campaign).first()
    if split is None:
        return None
    variants = {v.position: v for v in Variant.objects.filter(campaign=campaign)}
    return {
        "on": True,
        "share": str(split.test_share),
        "holdout": str(split.holdout),
        "winner_by": split.winner_by,
        "decide_hours": str(int(split.decide_after.total_seconds() // 3600) or 1),
        "if_undecided": split.if_undecided,
        "texts": [variants[p].text if p in variants else "" for p in (2, 3, 4)],
        "coupons": [variants[p].coupon if p in variants else "" for p in (1, 2, 3, 4)],
    }


def split_context(split: dict[str, Any] | None) -> dict[str, Any]:
    """What the section's template needs: values with defaults, the extra variants' rows."""
    split = {**DEFAULTS, **(split or {})}
    texts = list(split.get("texts") or []) + [""] * 3
    coupons = list(split.get("coupons") or []) + [""] * 4
    return {
        "split": split,
        "split_rows": [
            {"name": NAMES[i], "text": texts[i - 1], "coupon": coupons[i]} for i in (1, 2, 3)
        ],
        "coupon_a": coupons[0],
        "winner_choices": WinnerBy.choices,
        "min_per_variant": settings.HERALD_SPLIT_MIN_PER_VARIANT,
        "certainty": f"{settings.HERALD_SPLIT_CERTAINTY:.0%}",
    }
