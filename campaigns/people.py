"""A campaign's figures per person, across every attempt (issue 26 #10).

The counters count messages: an SMS failover, a fallback chain's next channel or a resend is a
message of its own, so "3 failed" may be 3 people of whom the fallback reached 2, and a
progress bar of messages goes backwards when those attempts join the ledger. These figures
count people: a person is the recipient of a campaign's first attempt and of every attempt
after it (failover rows link back with `replaces`; all attempts to one person share the
contact, so the contact is the key — a row without one, e.g. after an erasure, stands alone).

A person is `handled` once any attempt of theirs left the queue (monotonic: states only move
forward and attempts are only added), `reached` when any attempt was delivered, `pending`
while an attempt is queued, sending or awaiting its report, and `not_reached` when all their
attempts ended without a delivery (skipped ones apart).

One aggregate over the campaign's rows (its (campaign, id) index); campaigns whose every
person has exactly one attempt take the counters instead and cost no query.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

from django.core.cache import cache
from django.db import connection
from psycopg import sql
from psycopg.rows import args_row

from campaigns.models import Campaign, Message
from campaigns.states import CampaignState

FAILED = ("undeliverable", "expired", "rejected", "failed")
UNSENT = ("queued", "sending")
PENDING = ("queued", "sending", "accepted")
# Live campaigns are read again after this many seconds (the page polls every second).
LIVE_CACHE_SECONDS = 3
SETTLED_CACHE_SECONDS = 300

# Per person (contact, else the row itself): what their attempts add up to; then the people.
PEOPLE_SQL = sql.SQL("""
SELECT count(*),
       coalesce(sum(handled), 0), coalesce(sum(reached), 0), coalesce(sum(pending), 0),
       coalesce(sum(CASE WHEN first_failed = 1 THEN 1 ELSE 0 END), 0),
       coalesce(sum(CASE WHEN first_failed = 1 AND reached = 1 THEN 1 ELSE 0 END), 0),
       coalesce(sum(CASE WHEN reached = 0 AND pending = 0 AND only_skipped = 0
                         THEN 1 ELSE 0 END), 0),
       coalesce(sum(only_skipped), 0)
FROM (
  SELECT coalesce(contact_id, -id) AS person,
         max(CASE WHEN state NOT IN ({unsent}) THEN 1 ELSE 0 END) AS handled,
         max(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END) AS reached,
         max(CASE WHEN state IN ({pending}) THEN 1 ELSE 0 END) AS pending,
         max(CASE WHEN replaces_id IS NULL AND attempt = 1 AND state IN ({failed})
                  THEN 1 ELSE 0 END) AS first_failed,
         min(CASE WHEN state = 'skipped' THEN 1 ELSE 0 END) AS only_skipped
  FROM {messages}
  WHERE campaign_id = %s
  GROUP BY coalesce(contact_id, -id)
) AS per_person
""").format(
    unsent=sql.SQL(", ").join(map(sql.Literal, UNSENT)),
    pending=sql.SQL(", ").join(map(sql.Literal, PENDING)),
    failed=sql.SQL(", ").join(map(sql.Literal, FAILED)),
    messages=sql.Identifier(Message._meta.db_table),
)


class PeopleRow(NamedTuple):
    """PEOPLE_SQL's one row (sums are NULL-free: coalesced)."""

    people: int
    handled: int
    reached: int
    pending: int
    first_failed: int
    reached_by_fallback: int
    not_reached: int
    skipped: int


@dataclass(frozen=True)
class CampaignPeople:
    """A campaign's recipients counted once each, across their attempts."""

    people: int
    handled: int
    reached: int
    pending: int
    first_failed: int  # people whose first attempt failed …
    reached_by_fallback: int  # … and whom a later attempt (failover, fallback, resend) reached
    not_reached: int
    skipped: int
    attempts: int  # ledger rows: the people's messages

    @property
    def percent(self) -> int:
        """People handled, of all people (never goes backwards)."""
        return int(self.handled * 100 / self.people) if self.people else 0

    def as_dict(self) -> dict[str, int]:
        """The JSON of `campaign status` ("people")."""
        return asdict(self)


def _from_counters(campaign: Campaign, attempts: int) -> CampaignPeople:
    counts = campaign.counts
    failed = sum(counts[s] for s in FAILED)
    return CampaignPeople(
        people=attempts,
        handled=attempts - sum(counts[s] for s in UNSENT),
        reached=counts["delivered"],
        pending=sum(counts[s] for s in PENDING),
        first_failed=failed,
        reached_by_fallback=0,
        not_reached=failed,
        skipped=counts["skipped"],
        attempts=attempts,
    )


def campaign_people(*, campaign: Campaign) -> CampaignPeople:
    """The campaign's people figures (the counters when nobody has a second attempt)."""
    if campaign.history_archived_at is not None and "people" in campaign.history_figures:
        # Its rows are in the history file (campaigns/history.py): the figures taken then.
        return CampaignPeople(**campaign.history_figures["people"])
    attempts = sum(campaign.counts.values())
    if attempts <= campaign.recipients or not campaign.recipients:
        # One attempt per person: the counters already count people.
        return _from_counters(campaign, attempts)
    key = f"herald:people:{campaign.pk}:{attempts}:{campaign.count_delivered}"
    if (cached := cache.get(key)) is not None:
        return CampaignPeople(**cached)
    with connection.cursor() as cursor:
        cursor.execute(PEOPLE_SQL, [campaign.pk])
        cursor.cursor.row_factory = args_row(PeopleRow)
        row: PeopleRow = cursor.fetchone()
    people = CampaignPeople(
        **{name: int(value or 0) for name, value in row._asdict().items()}, attempts=attempts
    )
    live = campaign.state in (CampaignState.RUNNING, CampaignState.PAUSED) or people.pending
    # The aggregate reads every row of the campaign: a large live one is read again less often
    # (3 s up to 150,000 attempts, then 1 s more per 50,000: 20 s at 1,000,000).
    ttl = max(LIVE_CACHE_SECONDS, attempts // 50_000) if live else SETTLED_CACHE_SECONDS
    cache.set(key, people.as_dict(), ttl)
    return people
