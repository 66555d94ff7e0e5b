"""The `segment` trigger: contacts who start matching a segment enter.

"Starts matching" needs a memory of who matched: `SegmentMember`, one row per (journey,
contact) that matched the segment at the journey's last look. A look is one statement per
journey, set-based whatever the audience's size: the segment's contacts now (the segment
engine's own SQL, campaigns.segments) against that memory — contacts no longer matching are
forgotten (so matching again is a new start), contacts matching and not remembered are
remembered and, in the same transaction, let in (journeys/entering.py, so the re-entry rule,
the include/exclude audience and the one-entry-per-cause rule hold as for every trigger).

Two kinds of look:
- the sweep (`segment_triggers_sweep`, from the beat every HERALD_SEGMENT_SWEEP_EVERY seconds)
  evaluates the whole segment: it catches what no write signals (engagement rules that age,
  an edited segment, bulk changes);
- a contacts look (`segment_contacts_check`) evaluates the segment for the contacts a write
  just changed (contacts' `contacts_changed`, `list_joined` and consent signals, one task per
  batch of them), so a contact who starts matching enters within seconds, not minutes.
A journey's first look is its baseline: who matches when it is switched on is remembered and
not let in. A paused journey keeps looking without letting anyone in (triggers let nobody in
while paused), so resuming it does not let in everyone who started matching meanwhile.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from psycopg import sql

from campaigns.models import Segment
from campaigns.segments import SegmentError, segment_q
from contacts.models import Contact
from journeys.entering import Candidate, LiveJourney, entries_create
from journeys.models import Journey, JourneyState, SegmentMember
from journeys.plan import bound_cursor

logger = logging.getLogger(__name__)
# At most this many contacts are let in per journey and look (the rest at the next look, at
# once): a segment edited to match a million contacts is entered in bounded transactions.
ENTER_LIMIT = 20_000
ENTER_CHUNK = 5_000
# Journeys whose segment is looked at: a paused one too (remembering, letting nobody in).
LOOKED_AT = (JourneyState.ACTIVE, JourneyState.PAUSED)

# The look, in one statement (see the module docstring). `matching` is the segment's SQL over
# contacts (compiled by the ORM from campaigns.segments, its values bound as parameters);
# `scope` narrows the memory to the contacts looked at (a contacts look). The DELETE and the
# INSERT see the same snapshot: a contact forgotten is not matching, so not inserted again.
_LOOK = sql.SQL(
    """
    WITH matching AS MATERIALIZED ({matching}),
    gone AS (
        DELETE FROM {members} m
        WHERE m.journey_id = %s {scope}
          AND NOT EXISTS (SELECT 1 FROM matching s WHERE s.id = m.contact_id)
    )
    INSERT INTO {members} (journey_id, contact_id, matched_at)
    SELECT %s, s.id, %s FROM matching s
    WHERE NOT EXISTS (SELECT 1 FROM {members} m WHERE m.journey_id = %s AND m.contact_id = s.id)
    {limit}
    ON CONFLICT (journey_id, contact_id) DO NOTHING
    {returning}
    """
)


@dataclass(frozen=True, slots=True)
class Look:
    """What one look found: contacts who started matching, and whether more are waiting."""

    started: int
    entered: int
    more: bool


def _segment_sql(
    rules: dict[str, Any], now: dt.datetime, contact_ids: list[int] | None
) -> tuple[str, tuple[Any, ...]]:
    """The segment's contact ids as SQL text and parameters (the ORM's compilation)."""
    contacts = Contact.objects.filter(segment_q(rules, now=now))
    if contact_ids is not None:
        contacts = contacts.filter(Q(id__in=contact_ids))
    query = contacts.values("id").order_by().query
    compiled: tuple[str, tuple[Any, ...]] = query.get_compiler(using="default").as_sql()
    return compiled


def segment_look(
    *,
    journey_id: int,
    version_id: int,
    segment: Segment,
    now: dt.datetime,
    enter: bool,
    contact_ids: list[int] | None = None,
) -> Look:
    """One look at a journey's segment (the whole of it, or these contacts), in the caller's
    transaction: remember who matches, forget who no longer does, let in who started."""
    text, params = _segment_sql(segment.rules, now, contact_ids)
    members = sql.Identifier(SegmentMember._meta.db_table)
    scope: sql.Composable = sql.SQL("")
    scope_params: list[Any] = []
    if contact_ids is not None:
        scope, scope_params = sql.SQL("AND m.contact_id = ANY(%s)"), [contact_ids]
    statement = _LOOK.format(
        matching=sql.SQL(text),  # the ORM's compiled SQL; its values are the parameters
        members=members,
        scope=scope,
        limit=sql.SQL("LIMIT {}").format(sql.Literal(ENTER_LIMIT + 1)) if enter else sql.SQL(""),
        returning=sql.SQL("RETURNING id, contact_id") if enter else sql.SQL(""),
    )
    args = [*params, journey_id, *scope_params, journey_id, now, journey_id]
    with bound_cursor() as cursor:
        cursor.execute(statement, args)
        rows = cursor.fetchall() if enter else []
        started = len(rows) if enter else max(cursor.rowcount, 0)
    more = len(rows) > ENTER_LIMIT
    if more:
        # Forget the one past the limit: it is found again, and let in, at the next look.
        extra = rows.pop()
        SegmentMember.objects.filter(pk=extra[0]).delete()
        started -= 1
    entered = 0
    live = LiveJourney(journey_id, version_id)
    for start in range(0, len(rows), ENTER_CHUNK):
        chunk = rows[start : start + ENTER_CHUNK]
        candidates = [Candidate(contact, f"segment:{pk}") for pk, contact in chunk]
        entered += len(entries_create(journey=live, candidates=candidates, now=now))
    return Look(started, entered, more)


def segment_triggers_sweep(*, now: dt.datetime | None = None) -> int:
    """The beat's look at every segment journey not looked at for HERALD_SEGMENT_SWEEP_EVERY
    seconds (a journey never looked at takes its baseline); → contacts let in."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.HERALD_SEGMENT_SWEEP_EVERY)
    entered = 0
    due = (
        Journey.objects.filter(state__in=LOOKED_AT, trigger_type="segment", version__isnull=False)
        .exclude(swept_through__gt=stale)
        .values_list("id", flat=True)
    )
    for journey_id in due:
        look = journey_segment_sweep(journey_id=journey_id, now=now)
        entered += look.entered
        if look.more:
            from journeys.tasks import segment_sweep

            transaction.on_commit(_look_again(segment_sweep, journey_id))
    return entered


def journey_segment_sweep(*, journey_id: int, now: dt.datetime | None = None) -> Look:
    """Look at the whole of one journey's segment now (its baseline when never looked at)."""
    now = now or timezone.now()
    with transaction.atomic():
        journey = (
            Journey.objects.select_for_update(no_key=True)
            .filter(pk=journey_id, trigger_type="segment", state__in=LOOKED_AT)
            .first()
        )
        if journey is None or journey.version_id is None:
            return Look(0, 0, False)
        segment = Segment.objects.filter(pk=journey.trigger_segment_id or 0).first()
        look = Look(0, 0, False)
        if segment is not None:
            enter = journey.state == JourneyState.ACTIVE and journey.swept_through is not None
            try:
                look = segment_look(
                    journey_id=journey.pk,
                    version_id=journey.version_id,
                    segment=segment,
                    now=now,
                    enter=enter,
                )
            except SegmentError as exc:
                # A segment saved before its rules were checked as strictly: nobody enters.
                logger.warning(
                    "journey %s: segment %s cannot be evaluated: %s", journey.pk, segment.pk, exc
                )
        Journey.objects.filter(pk=journey.pk).update(swept_through=now)
    return look


def segment_contacts_check(*, contact_ids: list[int], now: dt.datetime | None = None) -> int:
    """Look at these (just changed) contacts in every segment journey already baselined;
    → contacts let in. One statement per journey, whatever the number of contacts."""
    now = now or timezone.now()
    ids = sorted(set(contact_ids))
    entered = 0
    journeys = Journey.objects.filter(
        state__in=LOOKED_AT,
        trigger_type="segment",
        version__isnull=False,
        swept_through__isnull=False,
    ).values_list("id", "version_id", "state", "trigger_segment_id")
    segments = Segment.objects.in_bulk([row[3] for row in journeys if row[3]])
    for journey_id, version_id, state, segment_id in journeys:
        segment = segments.get(segment_id)
        if segment is None:
            continue
        with transaction.atomic():
            try:
                look = segment_look(
                    journey_id=journey_id,
                    version_id=version_id,
                    segment=segment,
                    now=now,
                    contact_ids=ids,
                    enter=state == JourneyState.ACTIVE,
                )
            except SegmentError:
                continue
        entered += look.entered
    return entered


def segment_journeys_exist() -> bool:
    """Whether any journey listens to a segment (the contacts signals' cheap first probe)."""
    return Journey.objects.filter(
        state__in=LOOKED_AT, trigger_type="segment", swept_through__isnull=False
    ).exists()


# A write that changed more contacts than this is looked at by whole sweeps (one statement
# over the segment) rather than a task carrying every id.
SCOPED_LIMIT = 10_000


def contacts_changed_receiver(sender: Any, *, contact_ids: list[int], **kwargs: Any) -> None:
    """contacts' signals (changed, joined a list, consent): look at these contacts again in
    the segment journeys, after the write commits (one task per write, never per contact)."""
    ids = sorted(set(contact_ids))
    if not ids or not segment_journeys_exist():
        return
    from journeys.tasks import segment_contacts, segment_sweep

    if len(ids) > SCOPED_LIMIT:
        journeys = Journey.objects.filter(
            state__in=LOOKED_AT, trigger_type="segment", swept_through__isnull=False
        ).values_list("id", flat=True)
        for journey_id in journeys:
            transaction.on_commit(_look_again(segment_sweep, journey_id))
        return
    transaction.on_commit(_look_again(segment_contacts, ids))


def _look_again(task: Any, argument: Any) -> Callable[[], None]:
    # A named function, not a lambda: Django's robust on_commit logs the callback's name.
    def look_again() -> None:
        task.delay(argument)

    return look_again
