"""Settling messages whose fate Herald does not know, by asking Infobip before re-sending.

A batch stays `claimed` (campaigns.models.SendBatch, its rows `queued`) when its worker died
mid-batch or Infobip's answer never arrived; rows claimed `sending` by the code before batch
claims are settled the same way. After HERALD_SETTLE_AFTER seconds such rows are looked up in
Infobip's SMS logs by our messageId: found → the logged status is applied; still unknown after
HERALD_REQUEUE_AFTER → released to the queue with the same messageId (Infobip rejects a
duplicate id, a second safety net). WhatsApp has no logs endpoint, so its rows wait for their
report; after Infobip's 48-hour validity they are `failed` ("no report") — a late report can
still not move them back, and no WhatsApp message is ever re-sent without proof it was not
received. The batch row's conditional update (ledger.batch_take) is what keeps a slow sender
and the settler from both acting on one batch.
"""

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from campaigns.ledger import (
    Outcome,
    batch_take,
    messages_apply_outcomes,
    messages_requeue_unknown,
    unsettled_campaign_ids,
)
from campaigns.models import Message, SendBatch
from campaigns.status_map import message_price, state_for_status
from channels.registry import channel_types
from infobip.client import get_client
from infobip.errors import InfobipError
from infobip.types import SmsLog

logger = logging.getLogger(__name__)
VALIDITY = dt.timedelta(hours=48)


@dataclass
class SettleResult:
    found: int = 0
    requeued: int = 0
    waiting: int = 0
    expired: int = 0


def outcome_from_log(log: SmsLog) -> Outcome:
    """The ledger outcome an Infobip log entry stands for."""
    return Outcome(
        log.message_id,
        state_for_status(log.status),
        status_group=log.status.group_name,
        status_id=log.status.id,
        status_name=log.status.name,
        error_group=log.error.group_name if log.error else "",
        error_id=log.error.id if log.error else None,
        error_name=log.error.name if log.error else "",
        error_permanent=log.error.permanent if log.error else None,
        price=message_price(log.price.price_per_message, per_part=False, parts=log.message_count)
        if log.price
        else None,
        currency=log.price.currency if log.price else "",
        parts=log.message_count,
        bulk_id=log.bulk_id or "",
        at=log.done_at,
    )


def messages_settle(
    *,
    message_ids: list[int] | None = None,
    now: dt.datetime | None = None,
    campaign_id: int | None = None,
) -> SettleResult:
    """Settle stale batches and rows stuck in `sending` (the given ones, else every stale one)."""
    now = now or timezone.now()
    result = SettleResult()
    stale = now - dt.timedelta(seconds=settings.HERALD_SETTLE_AFTER)
    batches = SendBatch.objects.filter(state=SendBatch.State.CLAIMED)
    if campaign_id is not None:
        batches = batches.filter(campaign_id=campaign_id)
    live = list(batches.order_by("id").values_list("id", "ids", "claimed_at"))
    if message_ids is not None:
        wanted = set(message_ids)
        live = [b for b in live if wanted.intersection(b[1])]
    else:
        live = [b for b in live if b[2] <= stale]
    budget = 5000
    for batch_id, ids, claimed_at in live:
        if budget <= 0:
            break
        budget -= len(ids)
        _settle_batch(batch_id, ids, claimed_at, now, result)
    _settle_sending(message_ids, now, stale, campaign_id, result)
    return result


def with_logs() -> frozenset[str]:
    """The mediums whose sends Infobip's logs can settle (`ChannelType.log_lookup`: SMS)."""
    return frozenset(kind.ledger for kind in channel_types() if kind.log_lookup)


def _logs(rows: list[tuple[Any, ...]]) -> dict[str, SmsLog] | None:
    """Infobip's SMS logs of these rows by messageId; None when they cannot be read now."""
    if not rows:
        return {}
    try:
        logs = get_client().get_sms_logs(message_ids=[str(r[1]) for r in rows])
    except InfobipError as exc:
        logger.warning("settling %d SMS: Infobip logs unavailable: %s", len(rows), exc)
        return None
    return {log.message_id: log for log in logs}


def _settle_batch(
    batch_id: int, ids: list[int], claimed_at: dt.datetime, now: dt.datetime, result: SettleResult
) -> None:
    """One stale batch: apply what the logs know, release what they provably do not have."""
    # Rows of the batch still queued: the others were answered or reported meanwhile.
    rows = list(
        Message.objects.filter(id__in=ids, state="queued")
        .order_by("id")
        .values_list("id", "message_id", "channel")
    )
    logged = with_logs()
    sms = [r for r in rows if r[2] in logged]
    # Asked outside the transaction: a slow logs endpoint holds no lock a sender waits on.
    found = _logs(sms)
    requeue_before = now - dt.timedelta(seconds=settings.HERALD_REQUEUE_AFTER)
    # Types without logs to look a send up in: expired once their validity is surely over.
    whatsapp = [r for r in rows if r[2] not in logged]
    expired = whatsapp if claimed_at <= now - VALIDITY else []
    in_logs = [r for r in sms if found is not None and str(r[1]) in found]
    unknown = [r[0] for r in sms if found is not None and str(r[1]) not in found]
    old = unknown if claimed_at <= requeue_before else []
    with transaction.atomic():
        # The batch row first, as the sender's answer takes it (then ledger rows, then the
        # campaign): if the sender holds it, this waits and then finds what it left.
        if not (
            SendBatch.objects.select_for_update()
            .filter(pk=batch_id, state=SendBatch.State.CLAIMED)
            .exists()
        ):
            return
        if in_logs and found:
            applied = messages_apply_outcomes(
                outcomes=[outcome_from_log(found[str(r[1])]) for r in in_logs]
            )
            result.found += applied.applied
        if expired:
            messages_apply_outcomes(
                outcomes=[
                    Outcome(str(r[1]), "failed", reason="no answer or report from Infobip in 48 h")
                    for r in expired
                ]
            )
        # Ids no longer queued (answered, reported meanwhile) leave with those settled now.
        done = set(ids) - {r[0] for r in rows}
        done |= {r[0] for r in in_logs} | {r[0] for r in expired}
        batch_take(batch_id=batch_id, message_ids=done)
        if old:
            batch_take(
                batch_id=batch_id,
                message_ids=old,
                released="not in Infobip's logs: released with the same messageId",
            )
    result.requeued += len(old)
    result.expired += len(expired)
    result.waiting += len(sms) - len(in_logs) - len(old) + len(whatsapp) - len(expired)


def _settle_sending(
    message_ids: list[int] | None,
    now: dt.datetime,
    stale: dt.datetime,
    campaign_id: int | None,
    result: SettleResult,
) -> None:
    """Rows claimed `sending` (before batch claims): the same rules, row by row."""
    rows = Message.objects.filter(
        campaign_id__in=unsettled_campaign_ids(), state="sending", claimed_at__lte=stale
    )
    if campaign_id is not None:
        rows = rows.filter(campaign_id=campaign_id)
    if message_ids is not None:
        rows = Message.objects.filter(state="sending", id__in=message_ids)
    stuck = list(
        rows.order_by("id").values_list("id", "message_id", "channel", "claimed_at")[:5000]
    )
    logged = with_logs()
    sms = [r for r in stuck if r[2] in logged]
    if sms:
        found = _logs(sms)
        if found is None:
            result.waiting += len(sms)
        else:
            applied = messages_apply_outcomes(
                outcomes=[outcome_from_log(log) for log in found.values()]
            )
            result.found += applied.applied
            requeue_before = now - dt.timedelta(seconds=settings.HERALD_REQUEUE_AFTER)
            unknown = [r for r in sms if str(r[1]) not in found]
            old = [r[0] for r in unknown if r[3] and r[3] <= requeue_before]
            result.requeued += messages_requeue_unknown(
                message_ids=old, reason="not in Infobip's logs: re-queued with the same messageId"
            )
            result.waiting += len(unknown) - len(old)
    whatsapp = [r for r in stuck if r[2] not in logged]
    expired = [r for r in whatsapp if r[3] and r[3] <= now - VALIDITY]
    if expired:
        messages_apply_outcomes(
            outcomes=[
                Outcome(str(r[1]), "failed", reason="no answer or report from Infobip in 48 h")
                for r in expired
            ]
        )
        result.expired += len(expired)
    result.waiting += len(whatsapp) - len(expired)
