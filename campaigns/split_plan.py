"""Who gets which variant: a split campaign's groups, drawn once from the frozen audience.

Shares are of the whole audience: with N recipients, `test_share` % go to the variants (split
evenly, the first variants taking the remainder), `holdout` % get nothing, and the rest wait
for the winner. The audience is ranked by the campaign's seeded draw (core.draw) and cut in
that order — variants first, then the holdout, then the rest — so the group sizes are exact
and the groups a uniform random partition. PostgreSQL ranks the audience (one sort, however
large it is) and returns only the rank at the end of each group; the freeze then finds each
contact's group alone from its own rank (`Cells.group`), so memory stays flat. The cuts are
stored with the split, so a resumed freeze, a failover or a resend puts nobody elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from psycopg import sql

from campaigns.audience import audience_contacts
from campaigns.models import Campaign, SplitGroup, SplitTest, Variant
from core.draw import RANK_DRAW_SQL, RANK_KEY_SQL, Rank, band, cut_positions, rank

# Past every rank: the last group of a plan with no rest takes any contact ranked after the
# cuts were taken (one who joined the audience during the freeze).
PAST_ALL: Rank = (2**64, "")

# The rank at each cut position of the audience: one sort of the audience, in the database.
# Parameters, in order: the seed (in `draw`), the audience query's own, the positions.
CUTS = sql.SQL(
    "SELECT position, encode(draw, 'hex'), key FROM ("
    " SELECT row_number() OVER (ORDER BY draw, key) AS position, draw, key FROM ("
    "  SELECT {draw} AS draw, {key} AS key FROM ({audience}) a) ranked) positioned"
    " WHERE position = ANY(%s)"
)


@dataclass(frozen=True)
class Sizes:
    """How many of the audience each group gets (variants in order, then holdout, rest)."""

    variants: list[int]
    holdout: int
    rest: int

    @property
    def groups(self) -> list[int]:
        return [*self.variants, self.holdout]


def split_sizes(*, audience: int, variants: int, test_share: int, holdout: int) -> Sizes:
    """Exact group sizes: floors of the shares, the test's remainder to the first variants.

    `test_share` 100 means everyone who is not held out (a plain A/B test with no winner step).
    Without variants there is no test: everyone not held out gets the campaign's message.
    """
    held = audience * holdout // 100
    if not variants:
        return Sizes(variants=[], holdout=held, rest=audience - held)
    tested = audience - held if test_share >= 100 else audience * test_share // 100
    tested = min(tested, audience - held)
    each, extra = divmod(tested, variants)
    sizes = [each + (1 if i < extra else 0) for i in range(variants)]
    return Sizes(variants=sizes, holdout=held, rest=audience - held - tested)


@dataclass(frozen=True)
class Cells:
    """A frozen split's draw: each contact's group from its rank alone."""

    seed: str
    cuts: list[Rank]
    variants: int  # how many variants take the first groups
    waits: bool  # the rest waits for a winner (else, with no variants, it gets the message)

    def group(self, contact_id: int) -> tuple[int | None, int | None]:
        """(variant position or None, split group) of a contact."""
        index = band(rank=rank(seed=self.seed, key=contact_id), cuts=self.cuts)
        if 0 <= index < self.variants:
            return index + 1, SplitGroup.TEST
        if index == self.variants:
            return None, SplitGroup.HOLDOUT
        return None, SplitGroup.REST if self.waits else None


def split_cells(*, campaign: Campaign) -> Cells | None:
    """The campaign's draw, taken (and stored) at its first freeze; None without a split."""
    split = SplitTest.objects.filter(campaign=campaign).first()
    if split is None:
        return None
    variants = Variant.objects.filter(campaign=campaign).count()
    if split.cuts is None:
        audience = audience_contacts(campaign)
        sizes = split_sizes(
            audience=audience.count(),
            variants=variants,
            test_share=split.test_share,
            holdout=split.holdout,
        )
        cuts = _cuts(campaign, split.seed, sizes)
        plan = {"variants": sizes.variants, "holdout": sizes.holdout, "rest": sizes.rest}
        SplitTest.objects.filter(pk=split.pk, cuts__isnull=True).update(
            cuts=[[f"{d:016x}", k] for d, k in cuts], plan=plan
        )
        split.refresh_from_db(fields=["cuts", "plan"])
    cuts = [(int(d, 16), k) for d, k in split.cuts or []]
    waits = bool(variants) and split.plan.get("rest", 0) > 0
    return Cells(seed=split.seed, cuts=cuts, variants=variants, waits=waits)


def _cuts(campaign: Campaign, seed: str, sizes: Sizes) -> list[Rank]:
    """Each group's last rank (variants…, holdout); the last is PAST_ALL when no rest follows."""
    groups = sizes.groups
    positions = cut_positions(groups)
    sub, sub_params = audience_contacts(campaign).values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        statement = CUTS.format(
            draw=sql.SQL(RANK_DRAW_SQL), key=sql.SQL(RANK_KEY_SQL), audience=sql.SQL(sub)
        )
        cursor.execute(statement, [seed, *sub_params, [p for p in positions if p]])
        found = {position: (int(draw, 16), key) for position, draw, key in cursor.fetchall()}
    floor: Rank = (-1, "")
    cuts = [found.get(p, floor) if p else floor for p in positions]
    if sizes.rest == 0:
        cuts[-1] = PAST_ALL
    return cuts
