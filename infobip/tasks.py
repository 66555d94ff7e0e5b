"""Infobip tasks: thin wrappers that take ids, re-read state and call one service."""

import logging

from celery import shared_task
from django.conf import settings

from infobip.inbound import ReplyRetry, inbound_reply_give_up, inbound_reply_send
from infobip.processing import TRANSIENT_DB_ERRORS, events_backlog, events_process, pending_retry
from infobip.sweeper import reports_reconcile

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
    """Process stored webhook events (and others waiting, up to a batch) idempotently."""
    events_process(event_ids=event_ids, coalesce=max(0, settings.HERALD_WEBHOOK_BATCH_EVENTS - 1))


@shared_task(name="infobip.tasks.process_backlog", ignore_result=True)
def process_backlog() -> None:
    """Beat: process events whose task was lost, retry reports for unknown messageIds."""
    events_backlog()
    pending_retry()


@shared_task(name="infobip.tasks.reconcile_reports", ignore_result=True)
def reconcile_reports() -> None:
    """Beat: pull reports, settle and expire silent messages, record the report lag."""
    result = reports_reconcile()
    logger.info("reconcile_reports: %s", result.summary())


@shared_task(
    name="infobip.tasks.send_keyword_reply",
    bind=True,
    ignore_result=True,
    max_retries=6,
)
def send_keyword_reply(self, inbound_id: int) -> None:
    """Send the confirmation of an inbound keyword (claimed first: never sent twice)."""
    try:
        inbound_reply_send(inbound_id=inbound_id)
    except ReplyRetry as exc:
        if self.request.retries >= self.max_retries:
            inbound_reply_give_up(inbound_id=inbound_id, error=str(exc))
            return
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from exc
