"""Triggers: which live journeys a cause lets contacts into (events, keywords, lists, dates).

Each is matched by index on the journey's copied-out trigger (`trigger_event`, the keyword and
number, `trigger_list`), never by reading every journey's definition, and lets its contacts
in with one statement per journey (journeys/entering.py).
- `event`: an API event by name (journeys/events.py records it and calls `events_enter`);
- `keyword`: an inbound message whose first word matches, on the journey's number (or any
  number when it names none): inbox/services.py calls `keyword_messages_enter` for messages
  no opt-out, opt-in or help keyword claimed;
- `list_joined`: contacts' `list_joined` signal, sent where memberships are inserted;
- `date_attribute`: the beat's `date_triggers_sweep` (a birthday, a renewal ± offset at a
  local hour), once per contact and occasion.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from contacts.models import Contact
from core.words import first_word
from journeys.arrival import contact_zone
from journeys.batch import definition_of
from journeys.entering import Candidate, LiveJourney, entries_create
from journeys.models import Journey, JourneyState
from journeys.spec import duration_parse, time_parse

logger = logging.getLogger(__name__)
# Date-attribute journeys are swept at most this often (seconds): their hour is local and
# coarse, and each sweep reads the contacts whose date falls around today.
DATE_SWEEP_EVERY = 300


def live_journeys(**filters: Any) -> list[LiveJourney]:
    """Active journeys with a live version matching `filters` (by index)."""
    rows = Journey.objects.filter(
        state=JourneyState.ACTIVE, version__isnull=False, **filters
    ).values_list("id", "version_id")
    return [LiveJourney(pk, version) for pk, version in rows]


def digits(number: str) -> str:
    """A number as digits only: how keyword triggers compare our numbers."""
    return "".join(ch for ch in number or "" if ch.isdigit())


@dataclass(frozen=True, slots=True)
class EventCause:
    """A stored event as the triggers read it."""

    id: int
    name: str
    contact_id: int
    key: str
    properties: dict[str, Any]


def events_enter(
    *, events: Sequence[EventCause], now: dt.datetime | None = None
) -> dict[int, list[tuple[int, bool]]]:
    """Let the events' contacts into the live journeys their names trigger.

    → {event id: [(journey id, entered), ...]} for every journey the event's name triggers.
    """
    by_name: dict[str, list[EventCause]] = defaultdict(list)
    for event in events:
        by_name[event.name].append(event)
    answer: dict[int, list[tuple[int, bool]]] = {event.id: [] for event in events}
    for journey in live_journeys(trigger_type="event", trigger_event__in=sorted(by_name)):
        name = definition_of(journey.version_id).trigger["event"]
        causes = by_name.get(name, [])
        entered = entries_create(
            journey=journey,
            candidates=[
                Candidate(e.contact_id, f"event:{e.id}", e.key, e.id, e.properties) for e in causes
            ],
            now=now,
        )
        for event in causes:
            answer[event.id].append((journey.id, f"event:{event.id}" in entered))
    return answer


def keyword_messages_enter(*, messages: Sequence[tuple[int, int, str, str]]) -> set[int]:
    """Let (inbound id, contact id, text, to number) messages into keyword journeys.

    → the inbound ids a journey's keyword claimed (whether or not the re-entry rule let the
    contact in: the keyword is the journey's either way).
    """
    words = {pk: first_word(text) for pk, _, text, _ in messages}
    journeys = Journey.objects.filter(
        state=JourneyState.ACTIVE, trigger_type="keyword", trigger_keyword__in=set(words.values())
    ).values_list("id", "version_id", "trigger_keyword", "trigger_number")
    # A journey on the message's number wins over one listening on every number.
    table: dict[tuple[str, str], LiveJourney] = {
        (word, number): LiveJourney(pk, version) for pk, version, word, number in journeys
    }
    claimed: set[int] = set()
    per_journey: dict[LiveJourney, list[Candidate]] = defaultdict(list)
    for pk, contact_id, _, to in messages:
        word = words[pk]
        journey = table.get((word, digits(to))) or table.get((word, ""))
        if journey is None or not contact_id:
            continue
        claimed.add(pk)
        per_journey[journey].append(Candidate(contact_id, f"inbound:{pk}"))
    for journey, candidates in per_journey.items():
        entries_create(journey=journey, candidates=candidates)
    return claimed


def list_joined_receiver(
    sender: Any, *, list_id: int, contact_ids: list[int], **kwargs: Any
) -> None:
    """contacts' list_joined signal: contacts just added to a list enter its journeys."""
    if not contact_ids:
        return
    stamp = int(timezone.now().timestamp() * 1000)
    for journey in live_journeys(trigger_type="list_joined", trigger_list_id=list_id):
        entries_create(
            journey=journey,
            candidates=[Candidate(c, f"list:{list_id}:{c}:{stamp}") for c in contact_ids],
        )


def date_triggers_sweep(*, now: dt.datetime | None = None) -> int:
    """Let in the contacts whose date attribute's occasion is today (local) and past its hour."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=DATE_SWEEP_EVERY)
    entered = 0
    for journey in Journey.objects.filter(
        state=JourneyState.ACTIVE, trigger_type="date_attribute", version__isnull=False
    ).exclude(swept_through__gt=stale):
        with transaction.atomic():
            version_id = journey.version_id or 0  # the query asked for a live version
            entered += date_sweep(LiveJourney(journey.pk, version_id), now)
            Journey.objects.filter(pk=journey.pk).update(swept_through=now)
    return entered


def date_sweep(journey: LiveJourney, now: dt.datetime) -> int:
    """One date-attribute journey's occasions due at `now` (the beat's sweep, or a replay)."""
    trigger = definition_of(journey.version_id).trigger
    attribute = trigger["attribute"]
    offset = duration_parse(trigger.get("offset", "P0D")) or dt.timedelta(0)
    at = time_parse(trigger.get("at", "09:00")) or dt.time(9)
    # Local dates anywhere on Earth now are yesterday, today or tomorrow (UTC); the occasion
    # is the attribute's day shifted by the offset, so the dates to look for are these minus it.
    days = {(now + dt.timedelta(days=d)).date() - offset for d in (-1, 0, 1)}
    month_days = sorted({f"{d:%m-%d}" for d in days} | ({"02-29"} if _feb28(days) else set()))
    rows = Contact.objects.filter(
        date_occasions(attribute, month_days), opted_out=False
    ).values_list("id", "phone", "timezone", "attributes")
    candidates = []
    for contact_id, phone, zone_name, attributes in rows.iterator(chunk_size=2000):
        local = now.astimezone(zoneinfo.ZoneInfo(contact_zone(zone_name, phone)))
        occasion = local.date()
        raw = str((attributes or {}).get(attribute, ""))[:10]
        try:
            date = dt.date.fromisoformat(raw)
        except ValueError:
            continue
        shifted = occasion - offset
        same_day = (date.month, date.day) == (shifted.month, shifted.day) or (
            (date.month, date.day) == (2, 29)
            and (shifted.month, shifted.day) == (2, 28)
            and not _leap(shifted.year)
        )
        if same_day and local.time() >= at:
            key = f"{occasion:%Y-%m-%d}"
            candidates.append(Candidate(contact_id, f"date:{contact_id}:{key}", key))
    if not candidates:
        return 0
    return len(entries_create(journey=journey, candidates=candidates, now=now))


def date_occasions(attribute: str, month_days: Sequence[str]) -> RawSQL:
    """Contacts whose `attribute` is a date on one of `month_days` ("MM-DD"): the expression of
    the contact_month_days GIN index (contacts migration 0007), so only they are read."""
    wanted = [f"{attribute}:{month_day}" for month_day in month_days]
    return RawSQL(
        "contacts_month_days(attributes) <> '{}' AND contacts_month_days(attributes) && %s",
        [wanted],
        output_field=BooleanField(),
    )


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _feb28(days: set[dt.date]) -> bool:
    return any((d.month, d.day) == (2, 28) and not _leap(d.year) for d in days)


def settings_keywords() -> dict[str, str]:
    """Keywords inbox owns by configuration (folded) → what for."""
    owned: dict[str, str] = {}
    for what, words in (
        ("opt-out", settings.HERALD_OPT_OUT_KEYWORDS),
        ("opt-in", settings.HERALD_OPT_IN_KEYWORDS),
        ("help", settings.HERALD_HELP_KEYWORDS),
    ):
        for word in words:
            owned.setdefault(first_word(word), what)
    return owned
