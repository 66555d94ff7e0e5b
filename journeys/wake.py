"""Waking the engine as soon as something falls due, without a task per event.

An event that lets a contact in, a click a journey waits for, or a batch that wrote messages
wakes the engine (or the send step's campaign) after its commit. A storm of them costs at most
one task per journey (or campaign) and process per WAKE_WINDOW seconds: the task is queued
with a countdown a little longer than the window, so everything committed inside the window is
due when it runs (the pattern of api.emit's `_wake_final`). The beat sweep is the safety net.
"""

from collections.abc import Iterable
from functools import partial

from django.core.cache import cache
from django.db import transaction

WAKE_WINDOW = 0.2
WAKE_AFTER = WAKE_WINDOW + 0.05


def _eager() -> bool:
    from journeys.tasks import advance

    return bool(advance.app.conf.task_always_eager)


def journeys_wake(*, journey_ids: Iterable[int]) -> None:
    """After the commit, run the engine for these journeys soon."""
    for pk in sorted(set(journey_ids)):
        transaction.on_commit(partial(_wake_journey, pk))


def _wake_journey(journey_id: int) -> None:
    from journeys.tasks import advance

    if _eager():
        advance.delay(journey_id)
        return
    if cache.add(f"herald:journeys:wake:{journey_id}", 1, timeout=WAKE_WINDOW):
        advance.apply_async((journey_id,), countdown=WAKE_AFTER)


def campaign_wake(*, campaign_id: int) -> None:
    """Start a send step campaign's batch chains (after the commit that queued its rows).

    At once, with no window: it is called once per engine batch (up to 1,000 messages), not
    per message, and the trigger → first send time is what a journey's first step is judged by.
    """
    from campaigns.tasks import campaign_dispatch

    campaign_dispatch.delay(campaign_id)
