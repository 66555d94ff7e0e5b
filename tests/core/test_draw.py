"""The seeded draw: reproducible, uniform enough, exact shares."""

from collections import Counter

import pytest

from core.draw import draw, pick, split_exact


def test_the_same_seed_and_key_always_draw_the_same_number():
    assert draw(seed="campaign-7", key=42) == draw(seed="campaign-7", key=42)
    assert draw(seed="campaign-7", key=42) != draw(seed="campaign-8", key=42)
    assert 0.0 <= draw(seed="s", key="k") < 1.0


def test_pick_follows_the_weights():
    counts = Counter(pick(seed="journey-3", key=i, weights=[1, 3]) for i in range(20_000))
    assert 0.22 < counts[0] / 20_000 < 0.28
    assert set(counts) == {0, 1}


def test_pick_never_lands_on_a_zero_weight_and_refuses_nonsense():
    assert {pick(seed="x", key=i, weights=[0, 1, 0]) for i in range(500)} == {1}
    with pytest.raises(ValueError, match="positive sum"):
        pick(seed="x", key=1, weights=[0, 0])
    with pytest.raises(ValueError, match="positive sum"):
        pick(seed="x", key=1, weights=[])


def test_split_exact_cuts_exactly_the_counts_asked_and_is_reproducible():
    keys = list(range(1_000))
    groups = split_exact(seed="c7", keys=keys, counts=[100, 100, 50])
    tally = Counter(groups)
    assert tally == {0: 100, 1: 100, 2: 50, -1: 750}
    assert groups == split_exact(seed="c7", keys=list(reversed(keys)), counts=[100, 100, 50])[::-1]
    assert groups != split_exact(seed="c8", keys=keys, counts=[100, 100, 50])


def test_split_exact_refuses_more_than_there_is():
    with pytest.raises(ValueError, match="more keys"):
        split_exact(seed="s", keys=[1, 2], counts=[2, 1])


def test_band_over_the_cuts_puts_each_key_where_split_exact_does():
    from core.draw import band, cuts_of, rank

    keys = list(range(1, 501))
    counts = [0, 40, 40, 25]  # an empty first group, as a plan without a share would have
    ranked = sorted(rank(seed="c9", key=k) for k in keys)
    cuts = cuts_of(ranked=ranked, counts=counts)
    expected = split_exact(seed="c9", keys=keys, counts=counts)
    assert [band(rank=rank(seed="c9", key=k), cuts=cuts) for k in keys] == expected
    assert Counter(expected) == {1: 40, 2: 40, 3: 25, -1: 395}
