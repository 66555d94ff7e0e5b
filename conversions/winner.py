"""The winner rule of a split test: the probability that each variant is the best.

By clicks, replies or conversions a variant's rate is a proportion of the people delivered:
each gets a Beta(1 + successes, 1 + failures) posterior (a uniform prior). By revenue per
recipient it is not a proportion: revenue per person = conversion rate × mean order value, so
each variant gets the conversion rate's Beta posterior times a mean order value whose orders
are modelled as exponential with a Gamma(1 + orders, 1 + revenue) posterior on their rate —
the model of VWO's Bayesian A/B testing paper (C. Stucchio, 2015). The probability of being
best is the share of Monte Carlo draws in which a variant is highest, from a generator
seeded by the campaign and the figures, so the same figures always give the same answer.

A variant wins before the decision time when every variant has at least
HERALD_SPLIT_MIN_PER_VARIANT people delivered and one is best with a probability of at least
HERALD_SPLIT_CERTAINTY (Klaviyo's anchors: 500 and 90 %). At the decision time, the certain
winner if there is one; otherwise the split's choice: the leader (the highest probability,
Odoo's "best at the deadline"), none (the rest gets nothing), or a named variant.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from campaigns.models import WinnerBy


@dataclass(frozen=True)
class Arm:
    """One variant's test figures: people delivered, people who did it, and revenue."""

    name: str
    delivered: int
    successes: int
    revenue: Decimal = Decimal(0)

    def rate(self) -> float:
        """What the metric measures per person delivered (a rate, or revenue per person)."""
        return self.successes / self.delivered if self.delivered else 0.0


def probabilities_best(*, arms: Sequence[Arm], metric: str, draws: int, seed: str) -> list[float]:
    """Each arm's probability of having the best rate (or revenue per person), by Monte Carlo."""
    if not arms:
        return []
    rng = random.Random(_seed(seed, arms, metric))
    wins = [0] * len(arms)
    for _ in range(draws):
        values = [_sample(rng, arm, metric) for arm in arms]
        wins[max(range(len(arms)), key=values.__getitem__)] += 1
    return [w / draws for w in wins]


def _sample(rng: random.Random, arm: Arm, metric: str) -> float:
    failures = max(arm.delivered - arm.successes, 0)
    rate = rng.betavariate(1 + arm.successes, 1 + failures)
    if metric != WinnerBy.REVENUE:
        return rate
    # Mean order value = 1 / (the exponential's rate), whose posterior is Gamma(1 + n, 1 + sum).
    order_rate = rng.gammavariate(1 + arm.successes, 1 / (1 + float(arm.revenue)))
    return rate / order_rate


def _seed(seed: str, arms: Sequence[Arm], metric: str) -> int:
    figures = ";".join(f"{a.name}:{a.delivered}:{a.successes}:{a.revenue}" for a in arms)
    return int.from_bytes(hashlib.sha256(f"{seed}|{metric}|{figures}".encode()).digest()[:8])


@dataclass(frozen=True)
class Verdict:
    """What the rule says now: the probabilities, the leader, and whether to decide."""

    probabilities: dict[str, float]
    leader: str | None
    certain: bool
    decide: bool
    winner: str | None  # a variant's name; None with decide: send the rest nothing
    reason: str


def verdict(
    *,
    arms: Sequence[Arm],
    metric: str,
    due: bool,
    min_per_variant: int,
    certainty: float,
    if_undecided: str,
    draws: int,
    seed: str,
) -> Verdict:
    """Apply the rule to the figures: decide when certain, or when due by the fallback."""
    chances = probabilities_best(arms=arms, metric=metric, draws=draws, seed=seed)
    probabilities = {arm.name: round(p, 4) for arm, p in zip(arms, chances, strict=True)}
    if not arms:
        return Verdict(probabilities, None, False, False, None, "no variants")
    best = max(range(len(arms)), key=lambda i: (chances[i], -i))
    leader = arms[best].name
    fewest = min(arm.delivered for arm in arms)
    enough = fewest >= min_per_variant
    certain = enough and chances[best] >= certainty
    label = WinnerBy(metric).label.lower()
    if certain:
        reason = (
            f"{leader} is best by {label} with a probability of {chances[best]:.0%}"
            f" (at least {min_per_variant} delivered per variant, {certainty:.0%} needed)"
        )
        return Verdict(probabilities, leader, True, True, leader, reason)
    if not due:
        return Verdict(probabilities, leader, False, False, None, "still testing")
    why = (
        f"no variant was certain at the decision time (best: {leader} at {chances[best]:.0%}"
        f" by {label}; {fewest} delivered in the smallest variant, {min_per_variant} needed)"
    )
    if if_undecided == "none":
        return Verdict(probabilities, leader, False, True, None, f"{why}: sending none")
    if if_undecided == "leader":
        return Verdict(probabilities, leader, False, True, leader, f"{why}: sending the leader")
    return Verdict(
        probabilities, leader, False, True, if_undecided, f"{why}: sending {if_undecided}, as set"
    )
