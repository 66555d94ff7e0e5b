"""Journey tasks: thin wrappers that take ids, re-read state and call one service.

`advance` runs a journey's due entries in batches for a time slice, then wakes the journey
again while some are due; at most HERALD_JOURNEY_CHAINS run per journey at once (each holds a
PostgreSQL advisory lock on its slot, released with its connection if the worker dies), and at
most one more is queued (journeys/wake.py), so wake-ups and the beat never pile up tasks.
`sweep` (beat) lets in date-attribute occasions, wakes journeys with due entries, and pauses
journeys past their budget.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from celery import shared_task
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)
# pg_advisory_lock(class, journey id * 16 + slot): one chain per slot.
CHAIN_LOCK = 7_427
SLICE_SECONDS = 5.0


@contextmanager
def _slot(journey_id: int) -> Iterator[bool]:
    """Hold one of the journey's chain slots; yields False when all are taken."""
    held = None
    with connection.cursor() as cursor:
        for slot in range(max(1, settings.HERALD_JOURNEY_CHAINS)):
            cursor.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", [CHAIN_LOCK, journey_id * 16 + slot]
            )
            if cursor.fetchone()[0]:
                held = slot
                break
    try:
        yield held is not None
    finally:
        if held is not None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", [CHAIN_LOCK, journey_id * 16 + held]
                )


@shared_task(name="journeys.tasks.advance", ignore_result=True)
def advance(journey_id: int) -> None:
    """Run the journey's due entries for a time slice; queue the rest as the next link."""
    from journeys.engine import journey_advance, journey_due_exists
    from journeys.services import journey_budget_pause
    from journeys.wake import eager, journey_wake_now, journey_wake_taken

    inline = eager()
    # Before reading anything: an entry committed after this wakes the journey again.
    journey_wake_taken(journey_id)
    more = False
    with _slot(journey_id) as mine:
        if not mine:
            # Every slot's holder looks for due entries after releasing it (below).
            return
        deadline = time.monotonic() + SLICE_SECONDS
        full = False
        while True:
            result = journey_advance(journey_id=journey_id)
            if result.budget_reason:
                journey_budget_pause(journey_id=journey_id, reason=result.budget_reason)
                return
            if result.taken < settings.HERALD_JOURNEY_BATCH:
                break
            if not full and not inline:
                # A backlog: wake a chain for another slot (one queued task at most).
                full = True
                journey_wake_now(journey_id)
            if time.monotonic() > deadline:
                more = True
                break
    # After releasing the slot, so a wake-up that found every slot held is never lost.
    if not inline and (more or journey_due_exists(journey_id=journey_id)):
        journey_wake_now(journey_id)


@shared_task(name="journeys.tasks.sweep", ignore_result=True)
def sweep() -> None:
    """Beat: let in date-attribute occasions and new segment members, run due journeys."""
    from journeys.engine import journey_due_exists
    from journeys.segment_trigger import segment_triggers_sweep
    from journeys.services import journeys_runnable
    from journeys.triggers import date_triggers_sweep

    date_triggers_sweep()
    segment_triggers_sweep()
    for journey_id in journeys_runnable():
        if journey_due_exists(journey_id=journey_id):
            advance.delay(journey_id)


@shared_task(name="journeys.tasks.segment_sweep", ignore_result=True)
def segment_sweep(journey_id: int) -> None:
    """Look at the whole of a segment journey's segment again (more contacts started to match
    than one look lets in)."""
    from journeys.segment_trigger import journey_segment_sweep

    look = journey_segment_sweep(journey_id=journey_id)
    if look.more:
        segment_sweep.delay(journey_id)


@shared_task(name="journeys.tasks.segment_contacts", ignore_result=True)
def segment_contacts(contact_ids: list[int]) -> None:
    """Look at contacts a write just changed in every segment journey."""
    from journeys.segment_trigger import segment_contacts_check

    segment_contacts_check(contact_ids=contact_ids)


@shared_task(name="journeys.tasks.test_run", ignore_result=True)
def test_run(test_id: int) -> None:
    """Run a builder's test of a draft (a scratch database, the sandbox, simulated time)."""
    from journeys.services import journey_test_run

    journey_test_run(test_id=test_id)
