"""Campaign tasks: thin wrappers that take ids, re-read state and call one service.

A running campaign keeps HERALD_SEND_CHAINS batch chains in flight: each `send_batch` claims,
sends and records one batch, then enqueues the next link. A lost link (a killed worker) is
restarted by `sweep`; a duplicated one only claims rows nobody else has.
"""

import datetime as dt
import logging
from functools import partial
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from campaigns.failover import failover_overdue
from campaigns.freeze import campaign_freeze, campaign_release_rest, freeze_in_progress
from campaigns.models import Campaign
from campaigns.open_ledger import open_ledger_woken
from campaigns.reconcile import messages_settle
from campaigns.reports import reports_reconcile
from campaigns.sending import TransientSendError, campaign_send_batch
from campaigns.services import campaign_maybe_complete, campaign_pause, campaign_start_due
from campaigns.split import splits_releasing
from campaigns.states import CampaignState
from campaigns.validity import messages_expire_past_validity
from core.rules import SYSTEM

logger = logging.getLogger(__name__)
# A launched campaign in these states still gets its whole ledger: a cancelled one as skipped
# rows with the reason, so "who got what" has an answer for every recipient.
UNFROZEN_STATES = (CampaignState.RUNNING, CampaignState.PAUSED, CampaignState.CANCELLED)


@shared_task(name="campaigns.tasks.campaign_start", ignore_result=True)
def campaign_start(campaign_id: int) -> None:
    """Freeze a launched campaign's audience into the ledger; sending starts with chunk one."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.state not in UNFROZEN_STATES or campaign.launched_at is None:
        return
    # Run eagerly (tests, no broker) the chains would run inside the freeze: start them after.
    eager = bool(campaign_start.app.conf.task_always_eager)

    def start_sending() -> None:
        campaign_dispatch.delay(campaign_id)

    frozen = campaign_freeze(campaign=campaign, on_first_queued=None if eager else start_sending)
    if eager and frozen is not None:
        start_sending()


@shared_task(name="campaigns.tasks.split_release", ignore_result=True)
def split_release(campaign_id: int) -> None:
    """Write a decided split's rest with the winner; sending starts with its first chunk."""
    eager = bool(split_release.app.conf.task_always_eager)

    def start_sending() -> None:
        campaign_dispatch.delay(campaign_id)

    campaign = Campaign.objects.get(pk=campaign_id)
    written = campaign_release_rest(
        campaign=campaign, on_first_queued=None if eager else start_sending
    )
    if eager and written is not None:
        start_sending()


@shared_task(name="campaigns.tasks.campaign_dispatch", ignore_result=True)
def campaign_dispatch(campaign_id: int) -> None:
    """Start the batch chains of a running campaign (or complete it when nothing is left)."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.state != CampaignState.RUNNING:
        return
    if not campaign.count_queued:
        campaign_maybe_complete(campaign_id=campaign_id)
        return
    # A speed-limited campaign runs one chain, so its batches follow each other in time.
    chains = 1 if campaign.speed_limit else settings.HERALD_SEND_CHAINS
    for _ in range(chains):
        send_batch.delay(campaign_id)


@shared_task(
    name="campaigns.tasks.send_batch",
    bind=True,
    ignore_result=True,
    max_retries=8,
    autoretry_for=(TransientSendError,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
)
def send_batch(self: Task, campaign_id: int) -> None:
    """Send one batch of a campaign, then enqueue the next link of its chain."""
    open_ledger_woken(campaign_id=campaign_id)  # before claiming: see campaigns/open_ledger.py
    try:
        result = campaign_send_batch(campaign_id=campaign_id)
    except TransientSendError as exc:
        if self.request.retries >= self.max_retries:
            campaign = Campaign.objects.get(pk=campaign_id)
            campaign_pause(
                campaign=campaign, actor=SYSTEM, reason=f"Infobip unavailable after retries: {exc}"
            )
            return
        raise
    if result.unknown:
        settle.apply_async((result.unknown,), countdown=settings.HERALD_SETTLE_AFTER)
    if not result.more:
        campaign_maybe_complete(campaign_id=campaign_id)
        return
    countdown = result.wait
    campaign = Campaign.objects.only("speed_limit", "speed_unit").get(pk=campaign_id)
    if campaign.speed_limit and result.claimed:
        period = 1.0 if campaign.speed_unit == "second" else 60.0
        countdown = max(countdown, period * result.claimed / campaign.speed_limit)
    # A fresh task, not self.retry(): waiting for the throttle spends no retry budget.
    send_batch.apply_async((campaign_id,), countdown=countdown or None)


@shared_task(name="campaigns.tasks.settle", ignore_result=True)
def settle(message_ids: list[int]) -> None:
    """Settle these messages (left in `sending`) from Infobip's logs."""
    messages_settle(message_ids=message_ids)


@shared_task(name="campaigns.tasks.sweep", ignore_result=True)
def sweep() -> None:
    """Beat: start due campaigns, restart stalled chains, settle stuck rows, fail over."""
    campaign_start_due()
    campaign_restart_unfrozen()
    split_restart_releases()
    messages_settle()
    failover_overdue()
    stalled_before = timezone.now() - dt.timedelta(seconds=settings.HERALD_SETTLE_AFTER)
    for campaign in Campaign.objects.filter(state=CampaignState.RUNNING).only(
        "id", "count_queued", "count_sending", "last_batch_at", "launched_at"
    ):
        if not campaign.count_queued and not campaign.count_sending:
            campaign_maybe_complete(campaign_id=campaign.pk)
        elif (
            campaign.count_queued
            and (last := campaign.last_batch_at or campaign.launched_at)
            and last < stalled_before
        ):
            logger.info("campaign %s: no batch for a while, restarting its chains", campaign.pk)
            Campaign.objects.filter(pk=campaign.pk).update(last_batch_at=timezone.now())
            transaction.on_commit(partial(campaign_dispatch.delay, campaign.pk))


@shared_task(name="campaigns.tasks.expire_whatsapp", ignore_result=True)
def expire_whatsapp() -> int:
    """Beat: apply campaigns' WhatsApp validity (Infobip has no validity field for WhatsApp)."""
    return messages_expire_past_validity()


@shared_task(name="campaigns.tasks.history_archive", ignore_result=True)
def history_archive() -> int:
    """Beat: archive the history of campaigns finished longer ago than the retention period."""
    from campaigns.history import history_archive_due

    return len(history_archive_due())


def _history_actor(user_id: int | None) -> Any:
    from django.contrib.auth import get_user_model

    from core.rules import SYSTEM

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    return user or SYSTEM


@shared_task(name="campaigns.tasks.history_archive_one", ignore_result=True)
def history_archive_one(campaign_id: int, user_id: int | None) -> None:
    """One campaign's history to its file (asked from the admin), as the user who asked."""
    from campaigns.history import HistoryError, campaign_history_archive

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return
    try:
        campaign_history_archive(campaign=campaign, actor=_history_actor(user_id))
    except HistoryError as exc:  # changed since it was asked: said in the log, nothing lost
        logger.warning("campaign %s: history not archived: %s", campaign_id, exc)


@shared_task(name="campaigns.tasks.history_restore_one", ignore_result=True)
def history_restore_one(campaign_id: int, user_id: int | None) -> None:
    """One campaign's history back from its file (asked from the admin)."""
    from campaigns.history import HistoryError, campaign_history_restore

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return
    try:
        campaign_history_restore(campaign=campaign, actor=_history_actor(user_id))
    except HistoryError as exc:
        logger.warning("campaign %s: history not restored: %s", campaign_id, exc)


def campaign_restart_unfrozen() -> list[int]:
    """Re-start launched campaigns whose freeze died with its worker (ledger partly written).

    A live freezer holds its campaign's advisory lock, which dies with its connection; a
    duplicated start is harmless (one freezer at a time, resuming after the last contact).
    """
    stale = timezone.now() - dt.timedelta(seconds=settings.HERALD_SETTLE_AFTER)
    candidates = Campaign.objects.filter(
        state__in=UNFROZEN_STATES,
        frozen_at__isnull=True,
        launched_at__lt=stale,
    ).values_list("pk", flat=True)
    restarted = []
    for pk in candidates:
        if freeze_in_progress(pk):
            continue
        logger.warning("campaign %s: launched but not frozen, resuming its freeze", pk)
        campaign_start.delay(pk)
        restarted.append(pk)
    return restarted


def split_restart_releases() -> list[int]:
    """Resume the release of decided splits whose releaser died (or never ran)."""
    # Past the time a release normally takes to start: the decision enqueued one already.
    before = timezone.now() - dt.timedelta(seconds=settings.HERALD_SETTLE_AFTER)
    restarted = []
    for pk in splits_releasing(decided_before=before):
        if freeze_in_progress(pk):
            continue
        split_release.delay(pk)
        restarted.append(pk)
    return restarted


# The name is the one beat's schedule and already-queued messages carry (it lived in infobip).
@shared_task(name="infobip.tasks.reconcile_reports", ignore_result=True)
def reconcile_reports() -> None:
    """Beat: pull reports, settle and expire silent messages, record the report lag."""
    result = reports_reconcile()
    logger.info("reconcile_reports: %s", result.summary())
