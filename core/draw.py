"""Seeded, reproducible draws: the one machinery behind split tests, holdouts and journey splits.

A draw is a number in [0, 1) computed from a seed and a key (a contact id), so the same seed
and key always land in the same place, on any machine and in any process — no random state to
store, and a re-run, a resend or a crash cannot move anybody to another variant. Campaigns
rank a frozen audience by its draws to cut exact shares; a journey's `split` step compares one
contact's draw with the cumulative weights, since its contacts arrive one at a time.

The rank of a key is its 64-bit draw, then the key as text (ties are all but impossible; the
text makes the order total). An audience too large to hold in memory is ranked where it lives:
`RANK_DRAW_SQL` and `RANK_KEY_SQL` are the same rank in PostgreSQL, so the database finds the
cuts (the rank at the end of each group) and each key then finds its group alone with `band`.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Sequence

# The rank in SQL, for a table alias `a` with an `id` column and the seed as its one
# (positional) parameter: the first 8 bytes of the same SHA-256 (bytea compares as the
# big-endian integer), then the id as text in byte order, as Python compares strings.
RANK_DRAW_SQL = "substring(sha256(convert_to(%s || chr(31) || a.id::text, 'UTF8')) FROM 1 FOR 8)"
RANK_KEY_SQL = 'a.id::text COLLATE "C"'

Rank = tuple[int, str]


def _digest(seed: str, key: str | int) -> int:
    digest = hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def draw(*, seed: str, key: str | int) -> float:
    """A number in [0, 1) fixed by the seed and the key (SHA-256, so uniform and unguessable)."""
    return _digest(seed, key) / 2**64


def rank(*, seed: str, key: str | int) -> Rank:
    """The key's place in the seeded order: its 64-bit draw, then the key as text."""
    return _digest(seed, key), str(key)


def band(*, rank: Rank, cuts: Sequence[Rank]) -> int:
    """The group of a ranked key, given each group's last rank (`cuts`); -1 past the last."""
    index = bisect_left(cuts, rank)
    return index if index < len(cuts) else -1


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
    ranks = [rank(seed=seed, key=key) for key in keys]
    order = sorted(range(len(keys)), key=ranks.__getitem__)
    groups = [-1] * len(keys)
    position = 0
    for group, count in enumerate(counts):
        for i in order[position : position + count]:
            groups[i] = group
        position += count
    return groups


def cut_positions(counts: Sequence[int]) -> list[int]:
    """The 1-based rank positions that end each group (a group of 0 ends where the last did)."""
    if any(c < 0 for c in counts):
        raise ValueError("counts must be non-negative")
    positions, end = [], 0
    for count in counts:
        end += count
        positions.append(end)
    return positions


def cuts_of(*, ranked: Sequence[Rank], counts: Sequence[int]) -> list[Rank]:
    """Each group's last rank in `ranked` (sorted ascending); a group of 0 repeats the previous
    cut, or sorts before every rank when it comes first."""
    if sum(counts) > len(ranked):
        raise ValueError("counts add up to more keys than there are")
    floor: Rank = (-1, "")
    return [ranked[p - 1] if p else floor for p in cut_positions(counts)]
