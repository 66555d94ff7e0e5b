"""The winner rule's arithmetic: probabilities of being best, certainty, the fallbacks; lift."""

import time
from decimal import Decimal

import pytest

from conversions.lift import Group, lift_figures, newcombe, wilson
from conversions.winner import Arm, probabilities_best, verdict

RULE = {"min_per_variant": 500, "certainty": 0.9, "draws": 20_000, "seed": "s"}


def test_a_clearly_better_click_rate_is_best_with_high_probability_and_the_same_every_time():
    arms = [Arm("A", 1000, 50), Arm("B", 1000, 80)]
    first = probabilities_best(arms=arms, metric="clicks", draws=20_000, seed="x")
    assert first == probabilities_best(arms=arms, metric="clicks", draws=20_000, seed="x")
    assert first[1] > 0.99
    assert abs(sum(first) - 1) < 1e-9


def test_equal_figures_split_the_probability_evenly():
    p = probabilities_best(arms=[Arm("A", 600, 30)] * 3, metric="clicks", draws=30_000, seed="e")
    assert all(0.30 < x < 0.37 for x in p)


def test_certain_before_the_decision_time_only_with_enough_people_per_variant():
    certain = verdict(
        arms=[Arm("A", 600, 30), Arm("B", 600, 60)],
        metric="clicks",
        due=False,
        if_undecided="leader",
        **RULE,
    )
    assert certain.decide
    assert certain.winner == "B"
    assert certain.certain
    assert "B is best by clicks with a probability of" in certain.reason
    few = verdict(
        arms=[Arm("A", 100, 5), Arm("B", 100, 30)],
        metric="clicks",
        due=False,
        if_undecided="leader",
        **RULE,
    )
    assert not few.decide
    assert few.leader == "B"
    assert few.probabilities["B"] > 0.99


@pytest.mark.parametrize(
    ("fallback", "winner", "ending"),
    [
        ("leader", "B", "sending the leader"),
        ("none", None, "sending none"),
        ("A", "A", "sending A, as set"),
    ],
)
def test_at_the_decision_time_an_uncertain_test_follows_its_fallback(fallback, winner, ending):
    result = verdict(
        arms=[Arm("A", 100, 5), Arm("B", 100, 7)],
        metric="clicks",
        due=True,
        if_undecided=fallback,
        **RULE,
    )
    assert result.decide
    assert result.winner == winner
    assert not result.certain
    assert result.reason.startswith("no variant was certain at the decision time (best: B at")
    assert result.reason.endswith(ending)


def test_revenue_per_recipient_weighs_order_values_not_only_conversions():
    # A converts more often, B's orders are worth far more: B earns more per person.
    arms = [Arm("A", 2000, 100, Decimal("2000")), Arm("B", 2000, 80, Decimal("8000"))]
    revenue = probabilities_best(arms=arms, metric="revenue", draws=20_000, seed="r")
    conversions = probabilities_best(arms=arms, metric="conversions", draws=20_000, seed="r")
    assert revenue[1] > 0.99
    assert conversions[0] > 0.9


def test_an_evaluation_costs_well_under_a_second():
    arms = [Arm(n, 5000, 250, Decimal("5000")) for n in "ABCD"]
    started = time.process_time()
    probabilities_best(arms=arms, metric="revenue", draws=20_000, seed="t")
    assert time.process_time() - started < 2.0  # a guard against a runaway loop, not a bench


def test_wilson_and_newcombe_intervals_match_published_values():
    # Newcombe (1998), table II example (e): 56/70 vs 48/80 → difference 0.2, 95 % CI
    # 0.0524 to 0.3339 (method 10).
    sent, held = Group(70, 56, 0, 0), Group(80, 48, 0, 0)
    low, high = newcombe(sent, held)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    assert tuple(round(x, 4) for x in wilson(0, 10)) == (0.0, 0.2775)


def test_lift_reports_rates_the_difference_and_incremental_revenue():
    sent = Group(people=1000, converters=60, revenue=3000.0, revenue_squares=60 * 50.0**2)
    held = Group(people=100, converters=2, revenue=100.0, revenue_squares=2 * 50.0**2)
    lift = lift_figures(sent, held)
    assert lift["conversion_rate_difference"] == 0.04
    assert lift["relative_lift"] == 2.0
    assert lift["incremental_conversions"] == 40.0
    assert lift["revenue_per_person_difference"] == "2.0000"
    low, high = (float(x) for x in lift["revenue_per_person_difference_ci95"])
    assert low < 2.0 < high
    assert lift["sent"]["conversion_rate"] == 0.06
    assert lift["holdout"]["people"] == 100
