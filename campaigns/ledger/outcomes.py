"""Outcomes into the ledger: the forward-only write, its event rows and counters, and the one
way back (a claim undone because nothing reached Infobip)."""

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import orjson
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Least
from django.utils import timezone
from psycopg.rows import args_row, tuple_row

from campaigns import signals
from campaigns.ledger.statements import (
    COPY_EVENTS,
    LOCK_BY_MESSAGE_ID,
    UPDATE_COLUMNS,
    UPDATE_MESSAGES,
    LockedRow,
    bound_cursor,
    json_default,
)
from campaigns.ledger.types import FAILOVER_SENT_STATES, STATE_RANK, ApplyResult, Deltas, Outcome
from campaigns.models import COUNTER_FIELDS, Campaign, Message, MessageEvent
from campaigns.states import FINAL_STATES, MessageState, can_move

# An event row, in EVENT_COLUMNS order.
EventRow = tuple[int, str, str, str, str, str, str, datetime]


def best_outcomes(outcomes: Iterable[Outcome]) -> dict[str, Outcome]:
    """One outcome per message: the highest-ranked, the latest among equals (no enum look-ups)."""
    best: dict[str, Outcome] = {}
    rank = STATE_RANK
    oldest = datetime.min.replace(tzinfo=UTC)
    for outcome in outcomes:
        key = str(outcome.message_id)
        current = best.get(key)
        if current is None:
            best[key] = outcome
            continue
        rank_new, rank_old = rank[outcome.state], rank[current.state]
        if rank_new > rank_old or (
            rank_new == rank_old and (outcome.at or oldest) >= (current.at or oldest)
        ):
            best[key] = outcome
    return best


def messages_apply_outcomes(*, outcomes: Sequence[Outcome]) -> ApplyResult:
    """Apply outcomes in one transaction: forward-only, with counters and events in step."""
    result = ApplyResult()
    best = best_outcomes(outcomes)
    if not best:
        return result
    now = timezone.now()
    with transaction.atomic():
        rows = _lock_by_message_id([uuid.UUID(k) for k in best])
        found = {row.message_id for row in rows}
        result.unknown = [key for key in best if key not in found]
        updates: list[tuple[int, Outcome]] = []
        events: list[EventRow] = []
        deltas: dict[int, Deltas] = defaultdict(Deltas)
        for row in rows:
            outcome = best[row.message_id]
            if not can_move(row.state, outcome.state):
                result.unchanged += 1
                if outcome.status_name and outcome.status_name != row.status_name:
                    events.append(
                        event(row.id, MessageEvent.Kind.REPORT, row.state, "", outcome, now)
                    )
                continue
            result.applied += 1
            result.campaigns.add(row.campaign_id)
            result.changed[row.message_id] = (row.id, row.state, row.channel, row.contact_id)
            updates.append((row.id, outcome))
            events.append(
                event(row.id, MessageEvent.Kind.STATE, row.state, outcome.state, outcome, now)
            )
            d = deltas[row.campaign_id]
            d.counts[COUNTER_FIELDS[row.state]] -= 1
            d.counts[COUNTER_FIELDS[outcome.state]] += 1
            if row.replaces_id is not None:
                if row.state not in FAILOVER_SENT_STATES and outcome.state in FAILOVER_SENT_STATES:
                    d.counts["failover_sent"] += 1
                if outcome.state == MessageState.DELIVERED:
                    d.counts["failover_delivered"] += 1
            if outcome.price is not None:
                d.cost += outcome.price - (row.price or Decimal(0))
                d.currency = d.currency or outcome.currency
        update_messages(updates, now)
        insert_events(events)
        apply_deltas(deltas)
        signals.messages_final.send(
            Message, message_ids=[pk for pk, o in updates if o.state in FINAL_STATES]
        )
    return result


def _lock_by_message_id(message_ids: list[uuid.UUID]) -> list[LockedRow]:
    """Lock and read the ledger rows of these messageIds, in id order (no deadlocks)."""
    with bound_cursor(args_row(LockedRow)) as cursor:
        # One uuid[] literal: psycopg dumps a Python list element by element.
        cursor.execute(LOCK_BY_MESSAGE_ID, ["{" + ",".join(map(str, message_ids)) + "}"])
        return cursor.fetchall()


def event(pk: int, kind: str, old: str, new: str, outcome: Outcome, now: datetime) -> EventRow:
    """The event row of one outcome applied to (or stopped at) ledger row `pk`."""
    detail = outcome.reason or outcome.error_name
    return (pk, kind, old, new, outcome.status_name, outcome.error_name, detail[:500], now)


def outcome_columns(o: Outcome, now: datetime) -> dict[str, object]:
    """An outcome as the ledger's UPDATE_COLUMNS (the ones it sets; None leaves a column be)."""
    values = (
        o.state,
        o.status_group or None,
        o.status_id,
        o.status_name or None,
        o.error_group or None,
        o.error_id,
        o.error_name or None,
        o.error_permanent,
        o.price,
        o.currency or None,
        o.parts,
        o.bulk_id or None,
        o.reason[:500] or None,
        (o.at or now) if o.state == MessageState.ACCEPTED else None,
        (o.at or now) if o.state in FINAL_STATES else None,
    )
    names = (name for name, _ in UPDATE_COLUMNS)
    return {k: v for k, v in zip(names, values, strict=True) if v is not None}


def update_messages(updates: list[tuple[int, Outcome]], now: datetime) -> None:
    """Write the outcomes: one UPDATE … FROM jsonb_to_recordset (UPDATE_MESSAGES)."""
    if not updates:
        return
    payload = [{"id": pk, **outcome_columns(o, now)} for pk, o in updates]
    with bound_cursor(tuple_row) as cursor:
        cursor.execute(UPDATE_MESSAGES, [orjson.dumps(payload, default=json_default).decode()])


def insert_events(events: list[EventRow]) -> None:
    """Insert event rows with COPY (the hot path)."""
    if not events:
        return
    with connection.cursor() as cursor, cursor.copy(COPY_EVENTS) as copy:
        for row in events:
            copy.write_row(row)


def apply_deltas(deltas: dict[int, Deltas]) -> None:
    """Add each campaign's counter and cost changes to its row, campaigns in id order."""
    for campaign_id in sorted(deltas):
        d = deltas[campaign_id]
        changes = {name: F(name) + n for name, n in d.counts.items() if n}
        if d.cost:
            changes["cost_amount"] = F("cost_amount") + d.cost
        if not changes:
            continue
        qs = Campaign.objects.filter(pk=campaign_id)
        qs.update(**changes)
        if d.currency:
            qs.filter(cost_currency="").update(cost_currency=d.currency)


def messages_requeue_unknown(*, message_ids: Sequence[int], reason: str) -> int:
    """Re-queue sending messages that Infobip's logs do not know after the grace period."""
    return _move_back(message_ids, MessageState.SENDING, MessageState.QUEUED, reason)


def _move_back(message_ids: Sequence[int], old: str, new: str, reason: str) -> int:
    # The one exception to forward-only: a claim undone because nothing reached Infobip.
    if not message_ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Message.objects.filter(id__in=message_ids, state=old)
            .order_by("id")
            .select_for_update()
            .values_list("id", "campaign_id")
        )
        ids = [pk for pk, _ in rows]
        Message.objects.filter(id__in=ids).update(state=new, claimed_at=None)
        insert_events([(pk, MessageEvent.Kind.STATE, old, new, "", "", reason, now) for pk in ids])
        per_campaign = Counter(campaign_id for _, campaign_id in rows)
        lowest = {campaign_id: pk for pk, campaign_id in reversed(rows)}
        for campaign_id, n in per_campaign.items():
            Campaign.objects.filter(pk=campaign_id).update(
                **{
                    COUNTER_FIELDS[old]: F(COUNTER_FIELDS[old]) - n,
                    COUNTER_FIELDS[new]: F(COUNTER_FIELDS[new]) + n,
                },
                # Back in the queue below the claim hint: the next claim starts from them.
                claim_from=Least(F("claim_from"), Value(lowest[campaign_id])),
            )
    return len(ids)
