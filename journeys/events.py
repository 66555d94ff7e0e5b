"""Recording what contacts did (`POST /api/v1/events`), and what it sets off, in one transaction.

A batch of events is checked (each bad one refused with its index and reason, the others
kept), its contacts found by number or id (unknown numbers created with consent unknown, or
refused, per HERALD_EVENTS_UNKNOWN_CONTACTS), stored with one INSERT (an event's own `id`
makes a resend of it a no-op), and then, in the same transaction:
1. goals: contacts in a live journey whose goal is this event (on the entry's key when it has
   one) leave it at once;
2. triggers: the journeys the event's name triggers let the contacts in (journeys/entering.py);
3. waits: entries waiting for this event (`wait_for`) are resolved.
The answer is given after the commit, so an accepted event is a stored event. Lock order, to
never deadlock with the engine: goal exits lock entries first, then counters.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg import sql

from contacts.models import Contact
from contacts.phones import PhoneChecker, PhoneError
from contacts.services import contacts_for_numbers
from journeys import signals
from journeys.batch import definition_of
from journeys.models import EntryStep, Event, ExitReason, Journey, JourneyEntry, JourneyState
from journeys.plan import bound_cursor, counts_write, rows_json
from journeys.triggers import EventCause, events_enter
from journeys.waits import events_arrived

MAX_EVENTS = 1000
MAX_PROPERTIES_BYTES = 8192
_NAME = re.compile(r"^[A-Za-z0-9_.\-:]{1,100}$")


class EventError(ValueError):
    """An event that cannot be recorded (nothing of it was stored)."""


@dataclass
class EventIn:
    """One checked event, before its contact is known."""

    index: int
    name: str
    phone: str
    contact_id: int | None
    key: str
    properties: dict[str, Any]
    occurred_at: dt.datetime
    external_id: str | None


@dataclass
class EventsResult:
    """What a call recorded: per accepted event its id and journeys; refusals by index."""

    events: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0


# A number exactly as Herald stores it (E.164): when a contact has it, it needs no parsing.
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_KNOWN = sql.SQL("SELECT phone, id FROM {contacts} WHERE phone = ANY(%s)")


def known_numbers(events: list[Any]) -> dict[str, int]:
    """Contact ids of the numbers the events give exactly as stored (one query, no parsing).

    Parsing and classifying a number is most of an event's CPU in the checks; a stored number
    was checked when its contact was made and an E.164 number reads as itself, so only the
    others go through the phone checker (and unknown ones are created or refused as before).
    """
    numbers = set()
    for raw in events:
        contact = raw.get("contact") if isinstance(raw, dict) else None
        phone = contact.get("phone") if isinstance(contact, dict) else None
        if isinstance(phone, str) and _E164.match(phone):
            numbers.add(phone)
    if not numbers:
        return {}
    with bound_cursor() as cursor:
        cursor.execute(
            _KNOWN.format(contacts=sql.Identifier(Contact._meta.db_table)), [sorted(numbers)]
        )
        return dict(cursor.fetchall())


def event_check(
    raw: Any,
    index: int,
    checker: PhoneChecker,
    now: dt.datetime,
    known: dict[str, int] | None = None,
) -> EventIn:
    """One event as given, checked; EventError says what is wrong with it (numbers in `known`,
    stored contacts' own, are taken as they are)."""
    if not isinstance(raw, dict):
        raise EventError("an event is an object")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise EventError("name: letters, digits and _ . - : (at most 100)")
    contact = raw.get("contact")
    if not isinstance(contact, dict) or not (contact.get("phone") or contact.get("id")):
        raise EventError('contact: {"phone": "+41793026727"} or {"id": 42}')
    phone, contact_id = "", None
    if contact.get("id") is not None:
        if isinstance(contact["id"], bool) or not isinstance(contact["id"], int):
            raise EventError("contact.id: a whole number")
        contact_id = contact["id"]
    else:
        if not isinstance(contact.get("phone"), str):
            raise EventError("contact.phone: a phone number as text")
        if known and contact["phone"] in known:
            phone = contact["phone"]
        else:
            try:
                phone = checker.check(contact["phone"]).e164
            except PhoneError as exc:
                raise EventError(f"contact.phone: {exc}") from None
    key = raw.get("key", "")
    if key is None:
        key = ""
    if not isinstance(key, str | int) or isinstance(key, bool) or len(str(key)) > 200:
        raise EventError("key: text of at most 200 characters")
    properties = raw.get("properties") or {}
    if not isinstance(properties, dict):
        raise EventError("properties: an object")
    encoded = orjson.dumps(properties)
    if len(encoded) > MAX_PROPERTIES_BYTES:
        raise EventError(f"properties: at most {MAX_PROPERTIES_BYTES} bytes of JSON")
    # PostgreSQL can store no NUL character, in text or in jsonb.
    if b"\\u0000" in encoded or "\x00" in str(key) or "\x00" in str(raw.get("id") or ""):
        raise EventError("NUL characters are not accepted")
    occurred_at = now
    if raw.get("occurred_at") is not None:
        parsed = None
        if isinstance(raw["occurred_at"], str):
            try:
                parsed = parse_datetime(raw["occurred_at"])
            except ValueError:
                parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise EventError("occurred_at: an ISO 8601 time with its offset, e.g. …T10:02:00Z")
        occurred_at = parsed
    external = raw.get("id")
    if external is not None and (not isinstance(external, str) or not 0 < len(external) <= 200):
        raise EventError("id: your own id of the event, text of at most 200 characters")
    return EventIn(index, name, phone, contact_id, str(key), properties, occurred_at, external)


# The batch's events in one statement, ids drawn first so the answer keeps the request's
# order; an event whose own id was stored before is left out (ON CONFLICT) and answered with
# the stored one.
_INSERT = sql.SQL(
    """
    INSERT INTO {events} (id, name, contact_id, key, properties, occurred_at, received_at,
                          external_id, source)
    SELECT * FROM jsonb_to_recordset(%s::jsonb) AS r(id bigint, name text, contact_id bigint,
        key text, properties jsonb, occurred_at timestamptz, received_at timestamptz,
        external_id text, source text)
    ON CONFLICT (external_id) WHERE external_id IS NOT NULL DO NOTHING
    RETURNING id
    """
)


def events_record(
    *, events: list[Any], source: str = "api", now: dt.datetime | None = None
) -> EventsResult:
    """Check, store and act on a batch of events (see the module docstring)."""
    now = now or timezone.now()
    result = EventsResult()
    checker = PhoneChecker()
    checked: list[EventIn] = []
    known = known_numbers(events)
    for index, raw in enumerate(events):
        try:
            checked.append(event_check(raw, index, checker, now, known))
        except EventError as exc:
            result.rejected.append({"index": index, "reason": str(exc)})
    if not checked:
        return result
    with transaction.atomic():
        checked = _contacts(checked, result, known)
        if checked:
            _store(checked, source, now, result)
    result.rejected.sort(key=lambda r: r["index"])
    return result


def _contacts(
    checked: list[EventIn], result: EventsResult, stored: dict[str, int]
) -> list[EventIn]:
    phones = sorted({e.phone for e in checked if e.phone and e.phone not in stored})
    by_phone = dict(stored)
    if phones and settings.HERALD_EVENTS_UNKNOWN_CONTACTS == "create":
        by_phone.update(contacts_for_numbers(phones))
    elif phones:
        by_phone.update(Contact.objects.filter(phone__in=phones).values_list("phone", "id"))
    ids = {e.contact_id for e in checked if e.contact_id is not None}
    known = set(Contact.objects.filter(id__in=ids).values_list("id", flat=True)) if ids else set()
    kept = []
    for event in checked:
        if event.contact_id is None:
            event.contact_id = by_phone.get(event.phone)
            if event.contact_id is None:
                reason = "contact: no contact with this number (unknown contacts are refused)"
                result.rejected.append({"index": event.index, "reason": reason})
                continue
        elif event.contact_id not in known:
            result.rejected.append({"index": event.index, "reason": "contact.id: no such contact"})
            continue
        kept.append(event)
    return kept


def _store(checked: list[EventIn], source: str, now: dt.datetime, result: EventsResult) -> None:
    with bound_cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Event._meta.db_table, len(checked)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        columns = (
            "id",
            "name",
            "contact_id",
            "key",
            "properties",
            "occurred_at",
            "received_at",
            "external_id",
            "source",
        )
        rows = [
            (
                pk,
                e.name,
                e.contact_id,
                e.key,
                e.properties,
                e.occurred_at,
                now,
                e.external_id,
                source,
            )
            for e, pk in zip(checked, ids, strict=True)
        ]
        cursor.execute(
            _INSERT.format(events=sql.Identifier(Event._meta.db_table)), [rows_json(columns, rows)]
        )
        stored = {row[0] for row in cursor.fetchall()}
    replays = {e.external_id for e, pk in zip(checked, ids, strict=True) if pk not in stored}
    earlier = (
        dict(Event.objects.filter(external_id__in=replays).values_list("external_id", "id"))
        if replays
        else {}
    )
    causes = [
        EventCause(pk, e.name, e.contact_id, e.key, e.properties)  # type: ignore[arg-type]
        for e, pk in zip(checked, ids, strict=True)
        if pk in stored
    ]
    goals_reach(events=causes, now=now)
    journeys = events_enter(events=causes, now=now) if causes else {}
    _waits(causes)
    for event, pk in zip(checked, ids, strict=True):
        if pk in stored:
            answer = [{"id": j, "entered": entered} for j, entered in journeys.get(pk, [])]
            result.events.append({"index": event.index, "id": str(pk), "journeys": answer})
        else:
            result.duplicates += 1
            first = str(earlier.get(event.external_id, ""))
            result.events.append(
                {"index": event.index, "id": first, "journeys": [], "duplicate": True}
            )


def _waits(causes: list[EventCause]) -> None:
    """Resolve entries waiting for these events, for names some live journey waits on."""
    awaited = set()
    for version_id in Journey.objects.filter(state=JourneyState.ACTIVE).values_list(
        "version_id", flat=True
    ):
        if version_id is not None:
            definition = definition_of(version_id)
            awaited |= {
                str(s.raw.get("event")) for s in definition.steps.values() if s.type == "wait_for"
            }
    by_name: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for cause in causes:
        if cause.name in awaited:
            by_name[cause.name].append((cause.contact_id, cause.key))
    for name, contacts in by_name.items():
        events_arrived(name=name, contacts=contacts)


# Goal exits: the contacts' active entries in journeys whose goal is the event's name (and,
# for an entry with a key, the same key) leave now. Locks the entries first (a batch the
# engine holds is waited for: it commits without waiting on us), then writes their ledger rows.
_GOAL_EXIT = sql.SQL(
    """
    UPDATE {entries} AS e SET state = 'done', exit_reason = 'goal', exited_at = %(now)s,
        due_at = NULL, steps_taken = e.steps_taken + 1
    WHERE e.id IN (
        SELECT x.id FROM {entries} x
        JOIN unnest(%(contacts)s::bigint[], %(keys)s::text[]) AS g(contact_id, key)
          ON x.contact_id = g.contact_id AND (x.key = '' OR x.key = g.key)
        WHERE x.journey_id = ANY(%(journeys)s) AND x.state = 'active'
        ORDER BY x.id FOR UPDATE OF x)
    RETURNING e.id, e.journey_id, e.version_id, e.step, e.steps_taken
    """
)
_LEDGER = sql.SQL(
    """
    INSERT INTO {steps} (entry_id, n, step_id, step_type, at, outcome, detail, message)
    SELECT id, n, step, '', %s, 'exited', %s, NULL
    FROM unnest(%s::bigint[], %s::int[], %s::text[]) AS r(id, n, step)
    """
)


def goals_reach(
    *, events: list[EventCause], now: dt.datetime, journey_ids: list[int] | None = None
) -> int:
    """Entries whose journey's goal these events are leave at once; returns how many."""
    names = {e.name for e in events}
    live = Journey.objects.filter(
        state__in=[JourneyState.ACTIVE, JourneyState.PAUSED, JourneyState.ARCHIVED],
        goal_event__in=names,
    )
    if journey_ids is not None:
        live = live.filter(id__in=journey_ids)
    goals = dict(live.values_list("id", "goal_event"))
    if not goals:
        return 0
    left = 0
    for name in sorted(set(goals.values())):
        journeys = sorted(j for j, goal in goals.items() if goal == name)
        hits = [e for e in events if e.name == name]
        with bound_cursor() as cursor:
            cursor.execute(
                _GOAL_EXIT.format(entries=sql.Identifier(JourneyEntry._meta.db_table)),
                {
                    "now": now,
                    "journeys": journeys,
                    "contacts": [e.contact_id for e in hits],
                    "keys": [e.key for e in hits],
                },
            )
            rows = cursor.fetchall()
            if not rows:
                continue
            cursor.execute(
                _LEDGER.format(steps=sql.Identifier(EntryStep._meta.db_table)),
                [
                    now,
                    f"goal {name}",
                    [r[0] for r in rows],
                    [r[4] for r in rows],
                    [r[3] for r in rows],
                ],
            )
            by_journey: dict[int, dict[tuple[int, str], Counter[str]]] = defaultdict(dict)
            for _, journey_id, version_id, step, _ in rows:
                counter = by_journey[journey_id].setdefault((version_id, step), Counter())
                counter["waiting"] -= 1
                counter[f"exited_{ExitReason.GOAL}"] += 1
            for journey_id, counts in sorted(by_journey.items()):
                counts_write(cursor, journey_id, counts)
        for journey_id in sorted({r[1] for r in rows}):
            signals.journey_exited.send(
                Journey,
                journey_id=journey_id,
                exits=[(r[0], ExitReason.GOAL.value) for r in rows if r[1] == journey_id],
            )
        left += len(rows)
    return left
