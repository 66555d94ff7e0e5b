"""Waking the engine as soon as something falls due, without a task per event.

An event that lets a contact in, a click a journey waits for, or a chain that finished a slice
wakes the journey's engine after its commit, at once (no countdown). A storm of them costs at
most one queued `advance` per journey: a wake-up claims the journey's flag on the shared cache
(`once_per`, SET NX) and only the claimer enqueues; the task releases the flag before it reads
due entries, so whatever commits after that read's start wakes it again (the pattern of
infobip/wakeup.py). A flag whose task was lost (a purged queue, a broker outage) expires after
WAKE_TTL seconds, and the beat sweep is the safety net behind it.

Before, each process woke a journey at most once per 0.2 s window with a 0.25 s countdown, and
every chain re-queued itself: at a sustained 100 events/s the `sending` queue held a growing
pile of `advance` tasks (each a slot try, a claim, a due probe), the send step's dispatch
waited behind them, and trigger → first send reached p99 4.5–12 s (bench/HISTORY.md).
"""

from collections.abc import Iterable
from functools import partial

from core.queueing import enqueue_on_commit
from core.throttle import once_release, wake_once

WAKE_TTL = 10


def eager() -> bool:
    """Whether tasks run inline (the unit tests): a wake-up runs the engine there and then."""
    from journeys.tasks import advance

    return bool(advance.app.conf.task_always_eager)


def _key(journey_id: int) -> str:
    return f"journeys:wake:{journey_id}"


def journeys_wake(*, journey_ids: Iterable[int]) -> None:
    """After the commit, run the engine for these journeys now (one queued task per journey)."""
    for pk in sorted(set(journey_ids)):
        enqueue_on_commit(partial(journey_wake_now, pk), what=f"journey {pk}'s engine")


def journey_wake_now(journey_id: int) -> bool:
    """Queue the journey's engine unless a wake-up is already queued; True when this one did."""
    from journeys.tasks import advance

    return wake_once(_key(journey_id), WAKE_TTL, advance, journey_id, inline=eager())


def journey_wake_taken(journey_id: int) -> None:
    """The engine's task took the wake-up (call it before reading due entries)."""
    once_release(_key(journey_id))


def campaign_wake(*, campaign_id: int) -> None:
    """Send a send step campaign's new rows now (after the commit that queued them).

    One `send_batch` queued per campaign at most (campaigns/open_ledger.py), rather than a
    dispatch per engine batch that started HERALD_SEND_CHAINS chains each.
    """
    from campaigns.open_ledger import open_ledger_wake

    open_ledger_wake(campaign_id=campaign_id)
