"""Settling messages whose fate Herald does not know, by asking Infobip before re-sending.

A row stays `sending` when its worker died mid-batch or Infobip's answer never arrived. After
HERALD_SETTLE_AFTER seconds such rows are looked up in Infobip's SMS logs by our messageId:
found → the logged status is applied; still unknown after HERALD_REQUEUE_AFTER → re-queued with
the same messageId (Infobip rejects a duplicate id, a second safety net). WhatsApp has no logs
endpoint, so its rows wait for their report; after Infobip's 48-hour validity they are `failed`
("no report") — a late report can still not move them back, and no WhatsApp message is ever
re-sent without proof it was not received.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from campaigns.ledger import Outcome, messages_apply_outcomes, messages_requeue_unknown
from campaigns.models import Message
from campaigns.status_map import message_price, state_for_status
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
    *, message_ids: list[int] | None = None, now: dt.datetime | None = None
) -> SettleResult:
    """Settle rows stuck in `sending` (the given ones, else every stale one) from Infobip."""
    now = now or timezone.now()
    result = SettleResult()
    stale = now - dt.timedelta(seconds=settings.HERALD_SETTLE_AFTER)
    rows = Message.objects.filter(state="sending", claimed_at__lte=stale)
    if message_ids is not None:
        rows = Message.objects.filter(state="sending", id__in=message_ids)
    stuck = list(
        rows.order_by("id").values_list("id", "message_id", "channel", "claimed_at")[:5000]
    )
    sms = [r for r in stuck if r[2] == "sms"]
    if sms:
        try:
            logs = get_client().get_sms_logs(message_ids=[str(r[1]) for r in sms])
        except InfobipError as exc:
            logger.warning("settling %d SMS: Infobip logs unavailable: %s", len(sms), exc)
            result.waiting += len(sms)
            logs = None
        if logs is not None:
            found = {log.message_id: log for log in logs}
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
    whatsapp = [r for r in stuck if r[2] == "whatsapp"]
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
    return result
