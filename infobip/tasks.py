"""Infobip tasks: thin wrappers that take ids, re-read state and call one service."""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from infobip.processing import TRANSIENT_DB_ERRORS, events_backlog, events_process, pending_retry
from infobip.wakeup import wakeup_clear

logger = logging.getLogger(__name__)


@shared_task(
    name="infobip.tasks.process_events",
    ignore_result=True,
    autoretry_for=TRANSIENT_DB_ERRORS,
    max_retries=5,
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
)
def process_events(event_ids: list[int]) -> None:
    """Process stored webhook events, then every other waiting one, in batches, idempotently."""
    wakeup_clear()  # before reading: a push stored after this enqueues a task of its own
    size = max(1, settings.HERALD_WEBHOOK_BATCH_EVENTS)
    result = events_process(event_ids=event_ids, coalesce=size - 1)
    # Pushes that found this task on its way did not enqueue one: take what is waiting.
    for _ in range(MAX_ROUNDS):
        if not (result.events or result.duplicates or result.failed):
            return
        result = events_process(event_ids=[], coalesce=size)
    process_events.delay([])  # a long burst: hand over to a fresh task


# Batches one task takes before handing over (bounds a task's run under a sustained burst).
MAX_ROUNDS = 100


@worker_ready.connect
def clear_wakeup_on_start(**_: object) -> None:
    """A starting worker clears the wake-up flag: its task may have died with a worker."""
    wakeup_clear()


@shared_task(name="infobip.tasks.process_backlog", ignore_result=True)
def process_backlog() -> None:
    """Beat: process events whose task was lost, retry reports for unknown messageIds."""
    events_backlog()
    pending_retry()


@shared_task(name="infobip.tasks.check_connection", ignore_result=True)
def check_connection() -> None:
    """Check the Infobip connection and record it (worker start, then every few minutes)."""
    from infobip.health import infobip_connection_check

    infobip_connection_check()


@worker_ready.connect
def _check_connection_on_start(**_kwargs: object) -> None:
    # Queued rather than run here: a slow or unreachable Infobip must not delay the worker.
    check_connection.delay()
