"""Letting contacts into a journey: the re-entry rule, enforced by the database, in sets.

One statement lets a whole batch of candidates in (per journey):
- `journey_entry_source` (unique per journey and cause: an event, an inbound message, a list
  join, a date occasion) — the same cause processed twice lets nobody in twice;
- the member gate: one `JourneyMember` row per (journey, contact), upserted with a condition —
  `once` never updates an existing row (so returns nothing: no entry), `always` and
  `once_per_key` always do, a cooldown `{"after": "P30D"}` only when the last entry is older.
  The upsert is atomic under PostgreSQL's unique index, so two requests at the same moment
  cannot both pass: the rule is the database's, not a check before an insert;
- `once_per_key`: the partial unique index (journey, contact, key) refuses a second entry
  with the same key.
The gate's counter is the contact's entry number (`seq`), the campaign ledger's attempt of the
entry's messages, so each entry's sends are rows of their own.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone
from psycopg import sql

from campaigns.models import Segment
from campaigns.segments import segment_q
from contacts.models import Contact, ListMembership
from journeys import signals
from journeys.batch import definition_of
from journeys.models import JourneyEntry, JourneyMember
from journeys.plan import bound_cursor, counts_write, rows_json
from journeys.wake import journeys_wake

_GATES = {
    "once": sql.SQL("false"),
    "always": sql.SQL("true"),
    "once_per_key": sql.SQL("true"),
    "cooldown": sql.SQL("m.last_entered_at <= excluded.last_entered_at - %(cooldown)s"),
}

# Candidates → gate → entries, in one statement (see the module docstring). Candidates carry
# at most one row per contact (the caller splits repeats into rounds): an upsert may not touch
# one row twice.
_ENTER = sql.SQL(
    """
    WITH candidate AS (
        SELECT * FROM jsonb_to_recordset(%(candidates)s::jsonb)
            AS c(contact_id bigint, key text, source text, event_id bigint, properties jsonb)
    ), fresh AS (
        SELECT c.* FROM candidate c
        WHERE NOT EXISTS (SELECT 1 FROM {entries} e
                          WHERE e.journey_id = %(journey)s AND e.source = c.source)
          AND NOT (%(unique_key)s AND EXISTS (
                SELECT 1 FROM {entries} e WHERE e.journey_id = %(journey)s
                AND e.contact_id = c.contact_id AND e.key = c.key AND e.unique_key))
    ), gate AS (
        INSERT INTO {members} AS m (journey_id, contact_id, entries, last_entered_at)
        SELECT %(journey)s, contact_id, 1, %(now)s FROM fresh
        ON CONFLICT (journey_id, contact_id) DO UPDATE
            SET entries = m.entries + 1, last_entered_at = excluded.last_entered_at
            WHERE {gate}
        RETURNING contact_id, entries
    )
    INSERT INTO {entries} (
        journey_id, version_id, contact_id, seq, key, unique_key, source, event_id, properties,
        state, step, phase, due_at, wait_event, resolved, steps_taken, entered_at, exit_reason)
    SELECT %(journey)s, %(version)s, f.contact_id, g.entries, f.key, %(unique_key)s, f.source,
           f.event_id, f.properties, 'active', %(first)s, 'ready', %(now)s, '', '', 0,
           %(now)s, ''
    FROM fresh f JOIN gate g USING (contact_id)
    ON CONFLICT DO NOTHING
    RETURNING id, contact_id
    """
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A contact a trigger would let in, and why (`source`, unique per journey and cause)."""

    contact_id: int
    source: str
    key: str = ""
    event_id: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LiveJourney:
    """What entering needs of a journey: its id and live version."""

    id: int
    version_id: int


def audience_filter(trigger: dict[str, Any], contact_ids: list[int]) -> set[int]:
    """The contacts among `contact_ids` the trigger's include/exclude lists and segments allow."""
    include, exclude = trigger.get("include") or {}, trigger.get("exclude") or {}
    if not any(include.values()) and not any(exclude.values()):
        return set(contact_ids)
    now = timezone.now()
    contacts = Contact.objects.filter(id__in=contact_ids)

    def audience_q(side: dict[str, Any]) -> Q | None:
        parts = Q()
        any_part = False
        if side.get("lists"):
            members = ListMembership.objects.filter(contact_list__name__in=side["lists"])
            parts |= Q(id__in=members.values("contact_id"))
            any_part = True
        for segment in Segment.objects.filter(name__in=side.get("segments") or []):
            parts |= segment_q(segment.rules, now=now)
            any_part = True
        return parts if any_part else None

    if (wanted := audience_q(include)) is not None:
        contacts = contacts.filter(wanted)
    if (unwanted := audience_q(exclude)) is not None:
        contacts = contacts.exclude(unwanted)
    return set(contacts.values_list("id", flat=True))


def entries_create(
    *, journey: LiveJourney, candidates: list[Candidate], now: dt.datetime | None = None
) -> dict[str, int]:
    """Let the candidates in as the live version's rules allow; → {source: entry id} of those
    who entered (the caller's transaction; the engine is woken after the commit)."""
    now = now or timezone.now()
    definition = definition_of(journey.version_id)
    allowed = audience_filter(definition.trigger, sorted({c.contact_id for c in candidates}))
    candidates = [c for c in candidates if c.contact_id in allowed]
    entered: dict[str, int] = {}
    rounds = _rounds(candidates)  # one candidate per contact per round (see _ENTER)
    statement = _ENTER.format(
        entries=sql.Identifier(JourneyEntry._meta.db_table),
        members=sql.Identifier(JourneyMember._meta.db_table),
        gate=_GATES[definition.reentry],
    )
    with bound_cursor() as cursor:
        for group in rounds:
            cursor.execute(
                statement,
                {
                    "journey": journey.id,
                    "version": journey.version_id,
                    "first": definition.first,
                    "now": now,
                    "unique_key": definition.reentry == "once_per_key",
                    "cooldown": definition.cooldown,
                    "candidates": rows_json(
                        ("contact_id", "key", "source", "event_id", "properties"),
                        [
                            (c.contact_id, c.key, c.source[:100], c.event_id, c.properties)
                            for c in group
                        ],
                    ),
                },
            )
            rows = cursor.fetchall()
            by_contact = {c.contact_id: c.source for c in group}
            entered.update({by_contact[contact]: pk for pk, contact in rows})
        if entered:
            n = len(entered)
            counts_write(
                cursor,
                journey.id,
                {
                    (journey.version_id, ""): _counter(entered=n),
                    (journey.version_id, definition.first): _counter(entered=n, waiting=n),
                },
            )
    if entered:
        signals.journey_entered.send(
            JourneyEntry, journey_id=journey.id, entry_ids=sorted(entered.values())
        )
        journeys_wake(journey_ids=[journey.id])
    return entered


def _rounds(candidates: list[Candidate]) -> list[list[Candidate]]:
    """Candidates in rounds with each contact at most once per round, in their order."""
    seen: dict[int, int] = {}
    rounds: list[list[Candidate]] = []
    for candidate in candidates:
        index = seen.get(candidate.contact_id, -1) + 1
        seen[candidate.contact_id] = index
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(candidate)
    return rounds


def _counter(**values: int) -> Counter[str]:
    return Counter(values)
