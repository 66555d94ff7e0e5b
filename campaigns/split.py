"""Split tests and holdouts: a campaign's variants, its test, the decision and its figures.

A campaign may carry 2–4 variants (texts, or templates with their placeholders) and a test:
`share` % of the audience get the variants (evenly), `holdout` % get nothing, and the rest
waits for the winner, which the decision sends them once (campaigns.freeze
`campaign_release_rest`, through the ordinary claims and batching). The draw is in
campaigns/split_plan.py; the winner rule (which reads replies and conversions too) in
conversions/winner.py, which calls `split_decide` here. README "Split tests and holdouts"
states the rule.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from campaigns.models import Campaign, SplitGroup, SplitTest, Variant, WinnerBy
from campaigns.permissions import SEND
from campaigns.states import CampaignState
from channels.base import Content
from channels.registry import UnknownChannel, channel_type
from core.rules import Actor, actor_label, actor_require
from core.services import audit_record
from whatsapp.models import WhatsAppTemplate

MIN_VARIANTS, MAX_VARIANTS = 2, 4
HOLDOUT_MAX = 50
DECIDE_AFTER_MAX = dt.timedelta(days=30)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,19}$")
UNDECIDED = ("leader", "none")


@dataclass(frozen=True)
class VariantSpec:
    """One variant as a surface gives it: a name and a text, or a template and its mapping."""

    name: str
    text: str = ""
    template: WhatsAppTemplate | None = None
    template_mapping: dict[str, Any] | None = None
    coupon: str = ""


@dataclass(frozen=True)
class SplitSpec:
    """The test: shares of the audience, the winner rule and when it decides."""

    share: int = 100
    holdout: int = 0
    winner_by: str = WinnerBy.CLICKS
    decide_after: dt.timedelta = dt.timedelta(hours=4)
    if_undecided: str = "leader"


def split_spec_problems(
    *, channel: str, variants: Sequence[VariantSpec], test: SplitSpec | None
) -> list[str]:
    """Everything wrong with a split as given, as sentences (empty when it can run)."""
    problems: list[str] = []
    if variants and not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        problems.append(
            f"a split test has {MIN_VARIANTS} to {MAX_VARIANTS} variants, not {len(variants)}"
        )
    names = [v.name.strip() for v in variants]
    for name in names:
        if not NAME.match(name):
            problems.append(
                f"variant name {name[:30]!r}: 1–20 letters, digits, spaces, '_', '.' or '-'"
            )
    if len({n.casefold() for n in names}) != len(names):
        problems.append("variant names must differ")
    coupons = [v.coupon.strip() for v in variants if v.coupon.strip()]
    if len(set(coupons)) != len(coupons):
        problems.append("each variant needs its own coupon code")
    for variant in variants:
        problems += [f"variant {variant.name}: {p}" for p in _content_problems(channel, variant)]
    if test is None:
        return problems
    if not 1 <= test.share <= 100:
        problems.append("the test share must be 1 to 100 (% of the audience)")
    if not 0 <= test.holdout <= HOLDOUT_MAX:
        problems.append(f"the holdout must be 0 to {HOLDOUT_MAX} (% of the audience)")
    if test.share < 100 and test.share + test.holdout > 100:
        problems.append("the test share and the holdout add up to more than 100 %")
    if not variants and test.share < 100:
        problems.append("a test share needs 2 to 4 variants (use --variant)")
    if not variants and not test.holdout:
        problems.append("a test needs variants or a holdout")
    if test.winner_by not in WinnerBy.values:
        problems.append(f"winner by {test.winner_by!r}: use one of {', '.join(WinnerBy.values)}")
    if not dt.timedelta(0) < test.decide_after <= DECIDE_AFTER_MAX:
        problems.append("the decision time must be after launch and within 30 days")
    fallback = test.if_undecided.strip()
    if fallback not in UNDECIDED and fallback.casefold() not in {n.casefold() for n in names}:
        problems.append(
            f"when undecided: 'leader', 'none' or a variant's name, not {fallback[:30]!r}"
        )
    return problems


def _content_problems(channel: str, variant: VariantSpec) -> list[str]:
    """What the channel type says of the variant's content (a text, or a template)."""
    try:
        kind = channel_type(channel)
    except UnknownChannel as exc:
        return [str(exc)]
    if kind.uses_template and variant.template is None:
        return [f"a {kind.label} campaign's variant needs a template"]
    content = Content(
        text=variant.text, template=variant.template, mapping=variant.template_mapping or {}
    )
    return kind.content_problems(content)


def split_configure(
    *, campaign: Campaign, variants: Sequence[VariantSpec], test: SplitSpec | None
) -> SplitTest | None:
    """Set a draft's variants and test, replacing any; ValidationError when it cannot run.

    The campaign's own text (or template) becomes the first variant's, so every page that
    shows "the message" shows variant A.
    """
    if test is None and variants:
        test = SplitSpec()
    if problems := split_spec_problems(channel=campaign.channel, variants=variants, test=test):
        raise ValidationError(problems)
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.state != CampaignState.DRAFT or locked.launched_at is not None:
            raise ValidationError(f"campaign {campaign.pk} is {locked.state}: only drafts change")
        Variant.objects.filter(campaign=campaign).delete()
        SplitTest.objects.filter(campaign=campaign).delete()
        if test is None:
            return None
        Variant.objects.bulk_create(
            [
                Variant(
                    campaign=campaign,
                    position=i,
                    name=v.name.strip(),
                    text=v.text,
                    template=v.template,
                    template_mapping=v.template_mapping or {},
                    coupon=v.coupon.strip(),
                )
                for i, v in enumerate(variants, start=1)
            ]
        )
        if variants:
            first = variants[0]
            campaign.text = first.text
            campaign.template = first.template
            campaign.template_mapping = first.template_mapping or {}
            campaign.save(update_fields=["text", "template", "template_mapping", "updated_at"])
        fallback = test.if_undecided.strip()
        if fallback not in UNDECIDED:  # a variant's name, as the variant spells it
            fallback = next(
                v.name.strip() for v in variants if v.name.strip().casefold() == fallback.casefold()
            )
        return SplitTest.objects.create(
            campaign=campaign,
            test_share=100 if not variants else test.share,
            holdout=test.holdout,
            winner_by=test.winner_by,
            decide_after=test.decide_after,
            if_undecided=fallback,
        )


def split_problems(*, campaign: Campaign) -> list[str]:
    """What stops a saved campaign's split from running (checked again at launch)."""
    split = SplitTest.objects.filter(campaign=campaign).first()
    variants = list(Variant.objects.filter(campaign=campaign).select_related("template"))
    if split is None:
        return ["variants need a test (share, holdout, winner rule)"] if variants else []
    specs = [
        VariantSpec(
            name=v.name,
            text=v.text,
            template=v.template,
            template_mapping=v.template_mapping,
            coupon=v.coupon,
        )
        for v in variants
    ]
    test = SplitSpec(
        share=split.test_share,
        holdout=split.holdout,
        winner_by=split.winner_by,
        decide_after=split.decide_after,
        if_undecided=split.if_undecided,
    )
    return split_spec_problems(channel=campaign.channel, variants=specs, test=test)


def split_decide(
    *, campaign: Campaign, winner: int | None, reason: str, actor: Actor
) -> SplitTest | None:
    """Record the winner (a variant's position, or None: send the rest nothing), once.

    The conditional update from `testing` is what makes it once: a second decision (a
    duplicated sweep, a person choosing at the same moment) finds it decided and changes
    nothing. The release of the rest is enqueued when the decision commits.
    """
    from campaigns.tasks import split_release

    actor_require(actor, SEND, doing="decide split tests")
    now = timezone.now()
    with transaction.atomic():
        decided = SplitTest.objects.filter(campaign=campaign, state=SplitTest.State.TESTING).update(
            state=SplitTest.State.RELEASING,
            winner=winner,
            decided_at=now,
            decided_by=actor_label(actor)[:200],
            decision=reason[:500],
        )
        if not decided:
            return None
        name = (
            Variant.objects.filter(campaign=campaign, position=winner)
            .values_list("name", flat=True)
            .first()
            if winner is not None
            else None
        )
        audit_record(
            actor=actor,
            action="split_decide",
            campaign=campaign,
            detail=f"winner {name or 'none'}: {reason}"[:500],
        )
        transaction.on_commit(lambda: split_release.delay(campaign.pk))
    return SplitTest.objects.get(campaign=campaign)


def split_decide_by_name(*, campaign: Campaign, name: str, actor: Actor) -> SplitTest:
    """A person picks the winner (or "none") before the rule does; refused when decided."""
    split = SplitTest.objects.filter(campaign=campaign).first()
    if split is None or split.state != SplitTest.State.TESTING:
        state = "has no split test" if split is None else f"is {split.get_state_display()}"
        raise ValidationError(f"campaign {campaign.pk} {state}: there is nothing to decide")
    position = None
    if name.strip().casefold() != "none":
        position = (
            Variant.objects.filter(campaign=campaign, name__iexact=name.strip())
            .values_list("position", flat=True)
            .first()
        )
        if position is None:
            raise ValidationError(f"campaign {campaign.pk} has no variant {name[:30]!r}")
    reason = f"chosen by {actor_label(actor)}"
    decided = split_decide(campaign=campaign, winner=position, reason=reason, actor=actor)
    if decided is None:
        raise ValidationError(f"campaign {campaign.pk} was decided meanwhile")
    return decided


def splits_releasing(*, decided_before: dt.datetime | None = None) -> list[int]:
    """Campaigns whose decided rest is still (or again, after a crash) to be written."""
    releasing = SplitTest.objects.filter(state=SplitTest.State.RELEASING)
    if decided_before is not None:
        releasing = releasing.filter(decided_at__lt=decided_before)
    return list(releasing.values_list("campaign_id", flat=True))


# --- figures ------------------------------------------------------------------------------

# Per variant of the test group: recipients (originals), people delivered (any attempt), people
# who clicked, and people who replied within the reply window after their message was sent
# (keyword replies such as STOP are not engagement). One statement, the campaign's rows only.
VARIANT_FIGURES_SQL = """
SELECT m.variant,
       count(*) FILTER (WHERE m.replaces_id IS NULL AND m.attempt = 1) AS recipients,
       count(DISTINCT m.contact_id) FILTER (WHERE m.state = 'delivered') AS delivered,
       count(DISTINCT m.contact_id) FILTER (WHERE EXISTS (
           SELECT 1 FROM infobip_click c WHERE c.message_id = m.id)) AS clicked,
       count(DISTINCT m.contact_id) FILTER (WHERE EXISTS (
           SELECT 1 FROM infobip_inboundmessage i
            WHERE i.contact_id = m.contact_id AND i.keyword_action = ''
              AND i.received_at > COALESCE(m.accepted_at, m.claimed_at)
              AND i.received_at <= COALESCE(m.accepted_at, m.claimed_at) + %(reply)s)) AS replied
  FROM campaigns_message m
 WHERE m.campaign_id = %(campaign)s AND m.split_group = %(group)s
 GROUP BY m.variant
"""


@dataclass
class VariantFigures:
    """What one variant's test group did (people, not messages)."""

    position: int
    name: str
    recipients: int = 0
    delivered: int = 0
    clicks: int = 0
    replies: int = 0


def split_variant_figures(
    *, campaign: Campaign, group: int = SplitGroup.TEST
) -> list[VariantFigures]:
    """Each variant's figures in one group (the test by default), in variant order."""
    figures = {
        position: VariantFigures(position=position, name=name)
        for position, name in Variant.objects.filter(campaign=campaign).values_list(
            "position", "name"
        )
    }
    params: dict[str, Any] = {
        "campaign": campaign.pk,
        "group": int(group),
        "reply": settings.HERALD_ATTRIBUTION_REPLY_WINDOW,
    }
    # Its plan's cost at 1M recipients passes jit_above_cost, and JIT compiled for longer (2.3 s)
    # than the statement ran: off for this statement only, in a block rolled back (it wrote
    # nothing), so neither the caller's transaction nor the pooled connection keeps it.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('jit', 'off', true)")
        cursor.execute(VARIANT_FIGURES_SQL, params)
        rows = cursor.fetchall()
        transaction.set_rollback(True)
    for position, recipients, delivered, clicked, replied in rows:
        if position in figures:
            f = figures[position]
            f.recipients, f.delivered, f.clicks, f.replies = recipients, delivered, clicked, replied
    return [figures[p] for p in sorted(figures)]


def split_group_sizes(*, campaign: Campaign) -> dict[str, int]:
    """Ledger originals per split group, and the contacts still waiting for the winner."""
    from campaigns.models import Message, SplitRest

    rows = (
        Message.objects.filter(campaign=campaign, attempt=1, replaces__isnull=True)
        .exclude(split_group__isnull=True)
        .values_list("split_group")
        .annotate(n=Count("id"))
    )
    sizes = {SplitGroup(group).name.lower(): n for group, n in rows}
    sizes["waiting"] = SplitRest.objects.filter(campaign=campaign).count()
    return sizes


def iso_duration(value: dt.timedelta) -> str:
    """A duration as compact ISO 8601 (PT4H, P1DT30M): what the surfaces take back."""
    seconds = int(value.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "" if days else "T0S")


def split_status(*, campaign: Campaign, live: bool = True) -> dict[str, Any]:
    """The split's part of the status document (empty without one): variants, winner, holdout.

    `live` counts the figures from the ledger (a few aggregate queries over the test's rows);
    without it they come from the last evaluation (what the campaign page shows).
    """
    split = SplitTest.objects.filter(campaign=campaign).first()
    if split is None:
        return {}
    variants = list(Variant.objects.filter(campaign=campaign).select_related("template"))
    by_position = {v.position: v for v in variants}
    evaluation = split.evaluation or {}
    if live:
        figures = {f.position: vars(f) for f in split_variant_figures(campaign=campaign)}
    else:
        figures = {int(k): v for k, v in evaluation.get("figures", {}).items()}
    probabilities = evaluation.get("probabilities", {})
    rows = []
    for v in variants:
        f = figures.get(v.position, {})
        rows.append(
            {
                "name": v.name,
                "text": v.text,
                "template": v.template.name if v.template else None,
                "coupon": v.coupon or None,
                "recipients": f.get("recipients", 0),
                "delivered": f.get("delivered", 0),
                "clicks": f.get("clicks", 0),
                "replies": f.get("replies", 0),
                "probability_best": probabilities.get(v.name),
            }
        )
    sizes = split_group_sizes(campaign=campaign) if live else evaluation.get("sizes", {})
    decide_at = (
        campaign.launched_at + split.decide_after if campaign.launched_at is not None else None
    )
    winner = by_position.get(split.winner) if split.winner else None
    return {
        "variants": rows,
        "winner": winner.name if winner else None,
        "holdout": {"recipients": sizes.get("holdout", 0)},
        "split": {
            "state": split.state,
            "test_share": split.test_share,
            "holdout": split.holdout,
            "winner_by": split.winner_by,
            "decide_after": iso_duration(split.decide_after),
            "decide_at": decide_at.isoformat() if decide_at else None,
            "if_undecided": split.if_undecided,
            "plan": split.plan or None,
            "waiting": sizes.get("waiting", 0),
            "rest": sizes.get("rest", 0),
            "decided_at": split.decided_at.isoformat() if split.decided_at else None,
            "decided_by": split.decided_by or None,
            "decision": split.decision or None,
            "evaluated_at": evaluation.get("at"),
            "leader": evaluation.get("leader"),
            "certain": evaluation.get("certain"),
        },
    }


def split_preview(*, campaign: Campaign, audience: int, contact: Any) -> dict[str, Any] | None:
    """The preview's split: who would get what (the drawn sizes) and each variant for a sample
    contact, rendered — so every version is read and tested before launch."""
    from campaigns.rendering import compile_template, contact_values
    from campaigns.split_plan import split_sizes

    split = SplitTest.objects.filter(campaign=campaign).first()
    if split is None:
        return None
    variants = list(Variant.objects.filter(campaign=campaign).select_related("template"))
    sizes = split_sizes(
        audience=audience,
        variants=len(variants),
        test_share=split.test_share,
        holdout=split.holdout,
    )
    rows = []
    for variant, size in zip(variants, sizes.variants, strict=True):
        row: dict[str, Any] = {"name": variant.name, "recipients": size, "coupon": variant.coupon}
        if variant.template is not None:
            row["sample"] = f"WhatsApp template “{variant.template.name}”"
        elif contact is not None:
            rendered = compile_template(variant.text).render(contact_values(contact))
            row["sample"] = rendered.text
            parts, encoding = channel_type(campaign.channel).measure(rendered.text)
            if encoding:
                row["parts"], row["encoding"] = parts, encoding
        rows.append(row)
    return {
        "variants": rows,
        "holdout": sizes.holdout,
        "rest": sizes.rest,
        "winner_by": split.winner_by,
        "decide_after": iso_duration(split.decide_after),
        "if_undecided": split.if_undecided,
    }
