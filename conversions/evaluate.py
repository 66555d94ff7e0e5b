"""The split-test sweep: evaluate the winner rule as figures move, decide when it says so.

Every sweep (beat, HERALD_SWEEP_INTERVAL) evaluates each split still testing: the test's
figures per variant (people delivered, clicks, replies, conversions, revenue), the probability
that each is best (conversions/winner.py) and the lift over the holdout; the result is stored
with the split (and a short history), which is what the campaign page shows — no Monte Carlo
on a page view. When the rule is certain, or the decision time has come, the winner is
recorded (campaigns.split.split_decide, once) and the rest gets it. Splits already decided
keep being refreshed every REFRESH for the lift window, as conversions keep coming.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign, SplitTest, Variant, WinnerBy
from campaigns.split import split_decide, split_group_sizes, split_variant_figures
from campaigns.states import CampaignState
from conversions.figures import campaign_conversions, variant_conversions
from conversions.lift import campaign_lift
from conversions.winner import Arm, Verdict, verdict
from core.rules import SYSTEM

logger = logging.getLogger(__name__)
REFRESH = dt.timedelta(minutes=5)
HISTORY = 96  # points of the probability's history kept for the campaign page
LAUNCHED = (CampaignState.RUNNING, CampaignState.PAUSED, CampaignState.COMPLETED)


def splits_evaluate(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat: evaluate testing splits (deciding the due or certain ones), refresh recent ones."""
    now = now or timezone.now()
    done = {"evaluated": 0, "decided": 0}
    testing = SplitTest.objects.filter(state=SplitTest.State.TESTING).select_related("campaign")
    for split in testing:
        done["evaluated"] += 1
        if split_evaluate(split=split, now=now, decide=True):
            done["decided"] += 1
    recent = SplitTest.objects.filter(
        ~Q(state=SplitTest.State.PLANNED),
        ~Q(state=SplitTest.State.TESTING),
        campaign__launched_at__gte=now - settings.HERALD_LIFT_WINDOW,
    ).select_related("campaign")
    for split in recent:
        at = (split.evaluation or {}).get("at")
        if at is None or dt.datetime.fromisoformat(at) < now - REFRESH:
            split_evaluate(split=split, now=now, decide=False)
            done["evaluated"] += 1
    return done


def split_evaluate(*, split: SplitTest, now: dt.datetime, decide: bool) -> bool:
    """Evaluate one split and store the result; True when it decided the winner."""
    campaign = split.campaign
    if campaign.launched_at is None:
        return False
    if campaign.state == CampaignState.CANCELLED and decide:
        # Nothing more goes out: the rest's rows are written skipped, with the reason.
        reason = f"the campaign was cancelled before the decision: {campaign.state_reason}"
        return split_decide(campaign=campaign, winner=None, reason=reason, actor=SYSTEM) is not None
    if campaign.state not in LAUNCHED:
        return False
    evaluation, result = _evaluation(split, campaign, now)
    history = [*(split.history or []), {"at": evaluation["at"], "p": evaluation["probabilities"]}]
    SplitTest.objects.filter(pk=split.pk).update(evaluation=evaluation, history=history[-HISTORY:])
    if not decide or result is None or not result.decide:
        return False
    position = None
    if result.winner is not None:
        position = (
            Variant.objects.filter(campaign=campaign, name=result.winner)
            .values_list("position", flat=True)
            .first()
        )
    decided = split_decide(campaign=campaign, winner=position, reason=result.reason, actor=SYSTEM)
    if decided is not None:
        logger.info("campaign %s: split decided: %s", campaign.pk, result.reason)
    return decided is not None


def _evaluation(
    split: SplitTest, campaign: Campaign, now: dt.datetime
) -> tuple[dict[str, Any], Verdict | None]:
    figures = split_variant_figures(campaign=campaign)
    conversions = variant_conversions(campaign=campaign)
    arms = []
    stored = {}
    for f in figures:
        count, people, revenue = conversions.get(f.position, (0, 0, Decimal(0)))
        stored[str(f.position)] = vars(f) | {
            "conversions": count,
            "converters": people,
            "revenue": f"{revenue:.2f}",
        }
        successes = {
            WinnerBy.CLICKS: f.clicks,
            WinnerBy.REPLIES: f.replies,
            WinnerBy.CONVERSIONS: people,
            WinnerBy.REVENUE: people,
        }[WinnerBy(split.winner_by)]
        # People can click or convert without a delivery report (late or missing): never
        # more successes than trials.
        trials = max(f.delivered, successes)
        arms.append(Arm(name=f.name, delivered=trials, successes=successes, revenue=revenue))
    result = None
    launched = campaign.launched_at or now
    if arms:
        result = verdict(
            arms=arms,
            metric=split.winner_by,
            due=now >= launched + split.decide_after,
            min_per_variant=settings.HERALD_SPLIT_MIN_PER_VARIANT,
            certainty=settings.HERALD_SPLIT_CERTAINTY,
            if_undecided=split.if_undecided,
            draws=settings.HERALD_SPLIT_DRAWS,
            seed=split.seed,
        )
    evaluation = {
        "at": now.isoformat(),
        "metric": split.winner_by,
        "figures": stored,
        "probabilities": result.probabilities if result else {},
        "leader": result.leader if result else None,
        "certain": result.certain if result else False,
        "sizes": _sizes(split, campaign),
        # The state the sizes were counted in: they do not change while it lasts.
        "sizes_of": split.state,
        "conversions": campaign_conversions(campaign=campaign),
        "lift": campaign_lift(campaign=campaign, now=now),
    }
    return evaluation, result


# States in which the groups' rows no longer change: `testing` is set with `frozen_at`, after
# the freeze's last chunk (the test and holdout are written, the rest waits); `done` after
# the rest's release (or at the freeze when nobody waits). Failovers and later attempts are
# not originals, so they do not count (campaigns.split.split_group_sizes).
SETTLED = (SplitTest.State.TESTING, SplitTest.State.DONE)


def _sizes(split: SplitTest, campaign: Campaign) -> dict[str, int]:
    """The groups' sizes: the last evaluation's when counted in this same settled state, else
    counted from the ledger (a 1M split's count cost each sweep ~3 s of the beat's time)."""
    previous = split.evaluation or {}
    if split.state in SETTLED and previous.get("sizes_of") == split.state and previous.get("sizes"):
        return dict(previous["sizes"])
    return split_group_sizes(campaign=campaign)
