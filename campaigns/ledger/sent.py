"""The send answer: Infobip's answer to a claimed batch, written with one conditional UPDATE."""

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from psycopg.rows import scalar_row

from campaigns import signals
from campaigns.ledger.claims import batch_take
from campaigns.ledger.outcomes import messages_apply_outcomes
from campaigns.ledger.statements import UPDATE_SENT, bound_cursor
from campaigns.ledger.types import (
    FAILOVER_SENT_STATES,
    Claimed,
    Deltas,
    Outcome,
    SentRecord,
    SentStatus,
)
from campaigns.models import COUNTER_FIELDS, Campaign, Message
from campaigns.states import FINAL_STATES, RANK, MessageState, can_move

Sent = tuple[Claimed, SentStatus, int | None]  # a row, what the answer said, its parts


def messages_record_sent(
    *,
    campaign_id: int,
    sent: Sequence[Sent],
    bulk_id: str,
    batch_id: int | None = None,
) -> SentRecord:
    """Record a send answer for rows this caller claimed: one conditional UPDATE of the ledger.

    The rows of a batch (`batch_id`) are still `queued` unless something moved them since the
    claim (a report that overtook the answer, the settler after a slow answer): the
    `state = 'queued'` condition is the lock and the forward-only check at once (PostgreSQL
    re-checks it after waiting on a row another transaction holds), so no separate locking
    read; the batch row, locked first, says the batch is still this caller's (the settler
    did not release it). Rows it did not move go through messages_apply_outcomes, whose rules
    then decide. Without a batch (rows claimed `sending` before batch claims) the same, from
    `sending`.
    """
    result = SentRecord()
    source = MessageState.QUEUED if batch_id is not None else MessageState.SENDING
    best: dict[int, Sent] = {}
    late: list[Outcome] = []
    for item in sent:
        row, status = item[0], item[1]
        if not can_move(source, status.state):
            late.append(_sent_outcome(item, bulk_id))
            continue
        seen = best.get(row.id)
        if seen is None or RANK[MessageState(status.state)] > RANK[MessageState(seen[1].state)]:
            best[row.id] = item
    if best:
        now = timezone.now()
        with transaction.atomic():
            # Only rows the answer can move leave the batch: a row it cannot (an odd status)
            # stays held, for the settler, rather than becoming claimable again.
            live = batch_id is None or batch_take(batch_id=batch_id, message_ids=list(best))
            moved = _update_sent(best, bulk_id, now, source) if live else set()
            # No event rows: the row itself now says what the answer said (state, status,
            # reason, claimed_at, accepted_at or done_at), and the next event of the message
            # (a report) starts from this state. Events are for what the row cannot hold:
            # every later change, releases and holds with their reasons, reports that moved
            # nothing.
            final = []
            deltas = Deltas()
            for pk in moved:
                row, status, _ = best[pk]
                deltas.counts[COUNTER_FIELDS[status.state]] += 1
                if row.replaces_id is not None:
                    if status.state in FAILOVER_SENT_STATES:
                        deltas.counts["failover_sent"] += 1
                    if status.state == MessageState.DELIVERED:
                        deltas.counts["failover_delivered"] += 1
                if status.state in FINAL_STATES:
                    final.append(pk)
            deltas.counts[COUNTER_FIELDS[source]] -= len(moved)
            # The counters and the chain's liveness mark in one write of the campaign row.
            changes = {name: F(name) + n for name, n in deltas.counts.items() if n}
            Campaign.objects.filter(pk=campaign_id).update(**changes, last_batch_at=now)
            if final:
                signals.messages_final.send(Message, message_ids=final)
        result.applied, result.marked = len(moved), True
        late += [_sent_outcome(item, bulk_id) for pk, item in best.items() if pk not in moved]
    if late:
        other = messages_apply_outcomes(outcomes=late)
        result.applied += other.applied
        result.unknown = other.unknown
    return result


def _sent_outcome(item: Sent, bulk_id: str) -> Outcome:
    row, status, parts = item
    return Outcome(
        row.message_id,
        status.state,
        status_group=status.status_group,
        status_id=status.status_id,
        status_name=status.status_name,
        parts=parts,
        bulk_id=bulk_id,
        reason=status.reason,
    )


def _update_sent(best: dict[int, Sent], bulk_id: str, now: datetime, source: str) -> set[int]:
    """The one ledger write of a send answer (UPDATE_SENT); the ids it moved."""
    # Each distinct status once (`kinds`, indexed from 1 as SQL arrays are), each message as
    # its id, parts and status index, ids ascending.
    keys: dict[int, int] = {}
    kinds: list[SentStatus] = []
    ids, parts, ks = [], [], []
    for pk in sorted(best):
        _, status, count = best[pk]
        k = keys.get(id(status))
        if k is None:
            k = keys[id(status)] = len(kinds) + 1
            kinds.append(status)
        ids.append(str(pk))
        parts.append("NULL" if count is None else str(count))
        ks.append(str(k))
    params = {
        "state": [s.state for s in kinds],
        "group": [s.status_group or None for s in kinds],
        "status_id": [s.status_id for s in kinds],
        "name": [s.status_name or None for s in kinds],
        "reason": [s.reason[:500] or None for s in kinds],
        "final": [s.state in FINAL_STATES for s in kinds],
        "bulk": bulk_id or None,
        "now": now,
        # When the batch was claimed (the sweeper's report lag counts from it).
        "claimed": next(iter(best.values()))[0].claimed_at,
        "source": source,
        # Array literals: one text parameter each instead of a list dumped element by element.
        "ids": "{" + ",".join(ids) + "}",
        "parts": "{" + ",".join(parts) + "}",
        "ks": "{" + ",".join(ks) + "}",
    }
    with bound_cursor(scalar_row) as cursor:
        cursor.execute(UPDATE_SENT, params)
        return set(cursor.fetchall())
