"""Seeded, reproducible draws: the one machinery behind split tests, holdouts and journey splits.

A draw is a number in [0, 1) computed from a seed and a key (a contact id), so the same seed
and key always land in the same place, on any machine and in any process — no random state to
store, and a re-run, a resend or a crash cannot move anybody to another variant. Campaigns
rank a frozen audience by its draws to cut exact shares; a journey's `split` step compares one
contact's draw with the cumulative weights, since its contacts arrive one at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def draw(*, seed: str, key: str | int) -> float:
    """A number in [0, 1) fixed by the seed and the key (SHA-256, so uniform and unguessable)."""
    digest = hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick(*, seed: str, key: str | int, weights: Sequence[int | float]) -> int:
    """The index of the weight band the key's draw falls in (weights need not sum to 1)."""
    if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("weights must be non-negative with a positive sum")
    point = draw(seed=seed, key=key) * sum(weights)
    running = 0.0
    for index, weight in enumerate(weights):
        running += weight
        if point < running:
            return index
    return max(i for i, w in enumerate(weights) if w > 0)  # float rounding at the very top


def split_exact(*, seed: str, keys: Sequence[str | int], counts: Sequence[int]) -> list[int]:
    """Each key's group when exactly `counts[i]` keys go to group i, drawn reproducibly.

    Keys are ranked by their draw and cut in order, so the groups are a uniform random
    partition of exactly the sizes asked; keys past the sum of counts get -1 (not drawn).
    """
    if any(c < 0 for c in counts):
        raise ValueError("counts must be non-negative")
    if sum(counts) > len(keys):
        raise ValueError("counts add up to more keys than there are")
    order = sorted(range(len(keys)), key=lambda i: (draw(seed=seed, key=keys[i]), str(keys[i])))
    groups = [-1] * len(keys)
    position = 0
    for group, count in enumerate(counts):
        for i in order[position : position + count]:
            groups[i] = group
        position += count
    return groups
