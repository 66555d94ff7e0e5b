"""Moving an entry on: arriving at its next step (a wait's due time), or leaving the journey.

A wait is the entry's own row with a due time: arriving at `wait` sets `due_at` to now plus
the duration (or the contact's next local time of day), at `wait_for` to the timeout, and the
engine's sweep picks the row up when it is due. What a `wait_for` waits for that already
happened (a click on the message it sent, a reply, the named event) is found from the stored
rows when the entry arrives and again when it times out, so a click that lands while the entry
is being moved is never lost (journeys/waits.py).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

from django.conf import settings

from contacts.phones import candidate_zones
from journeys.batch import Batch
from journeys.models import ExitReason, JourneyEntry
from journeys.plan import Due, Move, Plan
from journeys.spec import Step

ACTIVE, DONE = JourneyEntry.State.ACTIVE.value, JourneyEntry.State.DONE.value
READY, WAITING = JourneyEntry.Phase.READY.value, JourneyEntry.Phase.WAITING.value


def move_on(
    batch: Batch,
    due: Due,
    next_step: str | None,
    *,
    taken: int,
    last_message: int | None = None,
) -> Move:
    """Leave `due`'s current step for `next_step` (None: the journey is completed)."""
    plan = batch.plan
    plan.count(due.version_id, due.step, "waiting", -1)
    if next_step is None:
        return leave(
            plan, due, ExitReason.COMPLETED, taken=taken, counted=True, last_message=last_message
        )
    move = Move(
        due.id, ACTIVE, next_step, READY, plan.now, steps_taken=taken, last_message=last_message
    )
    plan.count(due.version_id, next_step, "entered")
    plan.count(due.version_id, next_step, "waiting")
    arrive(batch, due, batch.definition(due.version_id).step(next_step), move, plan.now)
    plan.moves[due.id] = move
    return move


def arrive(batch: Batch, due: Due, step: Step, move: Move, since: dt.datetime) -> None:
    """Set `move` up for `step`: a wait's due time, what a wait_for waits for, else due now.

    `since` is when the entry reached the step: durations count from it.
    """
    if step.type == "wait":
        move.phase, move.waiting_since = WAITING, since
        if step.until is not None:
            contact = batch.contacts()[due.contact_id]
            zone = contact_zone(contact.timezone, contact.phone)
            move.due_at = wait_until(max(since, batch.now), step.until, zone)
        else:
            move.due_at = since + step.duration  # type: ignore[operator]
    elif step.type == "wait_for":
        move.phase, move.waiting_since = WAITING, since
        move.due_at = since + step.duration  # type: ignore[operator]
        move.wait_event = step.wait_event


def leave(
    plan: Plan,
    due: Due,
    reason: str,
    *,
    taken: int,
    counted: bool = False,
    last_message: int | None = None,
) -> Move:
    """`due` leaves the journey at its current step, for `reason`."""
    if not counted:
        plan.count(due.version_id, due.step, "waiting", -1)
    plan.count(due.version_id, due.step, f"exited_{reason}")
    move = Move(
        due.id,
        DONE,
        due.step,
        READY,
        None,
        steps_taken=taken,
        exit_reason=str(reason),
        exited_at=plan.now,
        last_message=last_message,
    )
    plan.moves[due.id] = move
    plan.exits.append((due.id, str(reason)))
    return move


def hold(plan: Plan, due: Due, until: dt.datetime, *, taken: int) -> Move:
    """Keep `due` at its step until `until` (quiet hours, a frequency cap)."""
    move = Move(
        due.id,
        ACTIVE,
        due.step,
        READY,
        until,
        steps_taken=taken,
        last_message=None,
        waiting_since=due.waiting_since,
    )
    plan.moves[due.id] = move
    return move


def contact_zone(timezone: str, phone: str) -> str:
    """The zone a contact's local times are in: theirs, else their number's, else the server's."""
    if timezone and _valid_zone(timezone):
        return timezone
    zones = candidate_zones(phone) if phone else ()
    return zones[0] if zones else settings.TIME_ZONE


@lru_cache(maxsize=1024)
def _valid_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def wait_until(now: dt.datetime, at: dt.time | None, zone: str) -> dt.datetime:
    """The next instant after `now` that is `at` o'clock in `zone` (today's, else tomorrow's)."""
    tz = zoneinfo.ZoneInfo(zone or "UTC")
    local = now.astimezone(tz)
    target = dt.datetime.combine(local.date(), at or dt.time(0), tzinfo=tz)
    if target <= local:
        target = dt.datetime.combine(
            local.date() + dt.timedelta(days=1), at or dt.time(0), tzinfo=tz
        )
    return target.astimezone(dt.UTC)
