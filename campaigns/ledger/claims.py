"""Claims: which worker sends which queued rows. A claim writes one SendBatch row (the ledger
ids) under the campaign-row lock; the ledger rows stay `queued` until the answer moves them,
and every other writer of queued rows leaves a live batch's rows alone."""

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from psycopg import sql

from campaigns.ledger.outcomes import insert_events, messages_apply_outcomes
from campaigns.ledger.statements import (
    CLAIM,
    CLAIM_DUE,
    IN_INDEX_ORDER,
    LOCK_CAMPAIGN,
    PLANNER_RESET,
    QUEUED_UNCLAIMABLE,
    RELEASED_BACK,
    QueuedRow,
    StateRow,
    fetch_rows,
)
from campaigns.ledger.types import ApplyResult, Claimed, Outcome, Screened
from campaigns.models import Campaign, Message, MessageEvent, SendBatch
from campaigns.states import MessageState


def messages_claim(
    *,
    campaign_id: int,
    limit: int,
    now: datetime | None = None,
    floor: int = 0,
    rescan: bool = True,
    screen: Callable[[list[Claimed]], Screened] | None = None,
) -> list[Claimed]:
    """Claim up to `limit` due queued messages as one SendBatch; only the caller sends them.

    The ledger rows are not written: they stay `queued`, and the batch row (written under the
    campaign-row lock every claim takes) keeps them out of every other claim, cancel and skip
    until the answer's one write moves them on (messages_record_sent). `screen` sees every
    picked row first and says which to skip or hold instead (done in the same transaction,
    so the batch holds exactly the rows that will be sent).

    `floor` is the campaign's `claim_from` hint: the scan starts there, because the campaign's
    rows below it are nearly all sent. Rows below it still queued are found (with `rescan`)
    when the hinted scan finds nothing: those held by quiet hours and now due from the
    `message_waiting` index; released ones lowered the hint; and only when the queued counter
    says some queued row is neither in flight nor held does a scan start from the first row.
    """
    now = now or timezone.now()
    claimed = _claim(CLAIM, campaign_id, limit, now, floor, screen)
    if claimed is None and rescan:
        claimed = _claim(CLAIM_DUE, campaign_id, limit, now, 0, screen)
    if claimed is None and floor and rescan and _unseen_queued(campaign_id, now):
        claimed = _claim(CLAIM, campaign_id, limit, now, 0, screen)
    return claimed or []


def _unseen_queued(campaign_id: int, now: datetime) -> bool:
    """Whether the counters count queued rows that no hinted or due claim can see."""
    with connection.cursor() as cursor:
        cursor.execute(QUEUED_UNCLAIMABLE, {"campaign": campaign_id, "now": now})
        rows = fetch_rows(cursor, QueuedRow)
    return bool(rows) and rows[0].queued > rows[0].unclaimable


def live_batch_ids(*, campaign_ids: Iterable[int]) -> set[int]:
    """The ledger ids held by these campaigns' live (claimed) batches."""
    live: set[int] = set()
    for ids in SendBatch.objects.filter(
        campaign_id__in=list(campaign_ids), state=SendBatch.State.CLAIMED
    ).values_list("ids", flat=True):
        live.update(ids)
    return live


def _claim(
    statement: sql.Composed,
    campaign_id: int,
    limit: int,
    now: datetime,
    floor: int,
    screen: Callable[[list[Claimed]], Screened] | None,
) -> list[Claimed] | None:
    """One pick (CLAIM or CLAIM_DUE) and its batch; None when the scan found nothing at all
    (the caller may look further)."""
    params = {
        "campaign": campaign_id,
        "floor": floor,
        "now": connection.ops.adapt_datetimefield_value(now),
        "limit": limit,
    }
    with transaction.atomic():
        if not lock_running(campaign_id):
            return []
        with connection.cursor() as cursor:
            if statement is CLAIM:
                cursor.execute(IN_INDEX_ORDER)
            cursor.execute(statement, params)
            picked = fetch_rows(cursor, claimed_row(now))
            if statement is CLAIM:
                cursor.execute(PLANNER_RESET)
        if not picked:
            return None
        screened = screen(picked) if screen is not None else Screened(keep=picked)
        if screened.skips:
            messages_apply_outcomes(outcomes=screened.skips)
        if screened.holds:
            _hold_queued(screened.holds, screened.hold_reason)
        keep = screened.keep
        if keep:
            batch = SendBatch.objects.create(
                campaign_id=campaign_id, ids=[row.id for row in keep], claimed_at=now
            )
            for row in keep:
                row.batch_id = batch.pk
        # No ledger row and no counter moves: the rows are queued until the answer. The hint
        # moves past what was picked. A scan from the start (floor 0) may lower it; the held
        # rows' pick (CLAIM_DUE) leaves it where it is.
        if statement is CLAIM:
            last = picked[-1].id + 1
            Campaign.objects.filter(pk=campaign_id).update(
                claim_from=Value(last) if not floor else Greatest(F("claim_from"), Value(last)),
            )
    return keep


def claimed_row(now: datetime) -> Callable[..., Claimed]:
    """CLAIM's row factory: its columns, in order, straight into a Claimed claimed at `now`."""

    def make(
        id: int,
        message_id: str,  # canonical text (message_id::text)
        contact_id: int | None,
        phone: str,
        channel: str,
        text: str,
        template_values: dict[str, Any] | str | None,  # Django's cursors load jsonb as text
        callback_data: str | None,
        replaces_id: int | None,
        contact: list[str | None] | None,  # [opted_out, timezone, country]; NULL: erased
    ) -> Claimed:
        opted_text, zone, country = contact or (None, None, None)
        values = template_values
        if isinstance(values, str):
            values = json.loads(values)
        return Claimed(
            id,
            message_id,
            contact_id,
            phone,
            channel,
            text,
            values,
            callback_data or "",
            replaces_id,
            opted_text == "true",
            now,
            zone=zone or "",
            country=country or "",
        )

    return make


def _hold_queued(holds: Sequence[tuple[int, datetime]], reason: str) -> int:
    """Set picked queued rows' `not_before` (quiet hours at send), with an event each."""
    now = timezone.now()
    until = dict(holds)
    by_time: dict[datetime, list[int]] = defaultdict(list)
    for pk, at in until.items():
        by_time[at].append(pk)
    moved = 0
    for at, ids in by_time.items():
        moved += Message.objects.filter(id__in=ids, state=MessageState.QUEUED).update(not_before=at)
    insert_events(
        [
            (
                pk,
                MessageEvent.Kind.STATE,
                MessageState.QUEUED,
                MessageState.QUEUED,
                "",
                "",
                f"{reason} until {until[pk]:%Y-%m-%d %H:%M} UTC"[:500],
                now,
            )
            for pk in sorted(until)
        ]
    )
    return moved


def lock_running(campaign_id: int) -> bool:
    """Lock the campaign's row before its messages (LOCK_CAMPAIGN); True while it is running.

    A pause or cancel that committed is seen here, so no batch is claimed after it.
    """
    with connection.cursor() as cursor:
        cursor.execute(LOCK_CAMPAIGN, [campaign_id])
        rows = fetch_rows(cursor, StateRow)
    return bool(rows) and rows[0].state == "running"


def batch_take(*, batch_id: int, message_ids: Iterable[int], released: str = "") -> bool:
    """Take ids out of a live batch (their fate is known); False when it is no longer live.

    The batch row's conditional update is what keeps a slow sender and the settler from both
    acting on one batch: whoever holds it decides, the other finds it `sent` or `released`.
    With `released` (a reason) the ids go back to the queue: nothing reached Infobip.
    """
    # No savepoint: inside the answer's transaction it is one more statement, not three.
    with transaction.atomic(savepoint=False):
        row = (
            SendBatch.objects.select_for_update()
            .filter(pk=batch_id, state=SendBatch.State.CLAIMED)
            .values_list("ids", "campaign_id")
            .first()
        )
        if row is None:
            return False
        ids, campaign_id = row
        gone = set(message_ids)
        rest = [pk for pk in ids if pk not in gone]
        changes: dict[str, Any] = {"ids": rest}
        if not rest:
            changes["state"] = SendBatch.State.RELEASED if released else SendBatch.State.SENT
        if released:
            changes["reason"] = released[:500]
        SendBatch.objects.filter(pk=batch_id).update(**changes)
        back = sorted(gone & set(ids))
        if released and back:
            _released_back(campaign_id, back, released)
    return True


def _released_back(campaign_id: int, ids: list[int], reason: str) -> None:
    """Released rows are claimable again from the hint (RELEASED_BACK); in a cancelled
    campaign, skipped."""
    with connection.cursor() as cursor:
        cursor.execute(RELEASED_BACK, {"lowest": ids[0], "campaign": campaign_id})
        rows = fetch_rows(cursor, StateRow)
    if rows and rows[0].state == "cancelled":
        # The cancel left these rows to their batch; nothing was sent, so they are skipped.
        queued = Message.objects.filter(id__in=ids, state=MessageState.QUEUED).values_list(
            "message_id", "campaign__state_reason"
        )
        messages_apply_outcomes(
            outcomes=[Outcome(str(mid), "skipped", reason=why or reason) for mid, why in queued]
        )


def messages_skip_unclaimed(*, message_ids: Iterable[int], reason: str) -> ApplyResult:
    """Skip these messages if still queued and in no live batch (opt-out, failover cancel).

    Campaign rows are locked first, as claims lock them, so no batch can take a row between
    the check and the skip, and a batch being sent is never recorded skipped.
    """
    ids = sorted(set(message_ids))
    if not ids:
        return ApplyResult()
    with transaction.atomic():
        campaign_ids = sorted(
            set(Message.objects.filter(id__in=ids).values_list("campaign_id", flat=True))
        )
        with connection.cursor() as cursor:
            for campaign_id in campaign_ids:
                cursor.execute(LOCK_CAMPAIGN, [campaign_id])
        live = live_batch_ids(campaign_ids=campaign_ids)
        queued = [
            str(mid)
            for pk, mid in Message.objects.filter(
                id__in=ids, state=MessageState.QUEUED
            ).values_list("id", "message_id")
            if pk not in live
        ]
        return messages_apply_outcomes(
            outcomes=[Outcome(mid, "skipped", reason=reason) for mid in queued]
        )


def unsettled_campaign_ids() -> list[int]:
    """Campaigns whose counters count rows `sending` or `accepted` (awaiting their fate).

    No index names the state (the answer's and the reports' updates stay HOT), so the
    sweeper's readers of unsettled rows go through these campaigns' (campaign, id) ranges.
    """
    return list(
        Campaign.objects.filter(Q(count_sending__gt=0) | Q(count_accepted__gt=0))
        .order_by("id")
        .values_list("id", flat=True)
    )


def messages_in_flight(*, campaign_id: int) -> int:
    """Queued rows held by the campaign's live batches: the "sending" of its page."""
    live = live_batch_ids(campaign_ids=[campaign_id])
    if not live:
        return 0
    return Message.objects.filter(id__in=sorted(live), state=MessageState.QUEUED).count()
