"""Set-based writes to the message ledger: claim, apply outcomes, release, and their counters.

Every function here changes many rows with a constant number of statements (no query per
message), keeps the campaign's denormalised counters in step in the same transaction, and writes
a `MessageEvent` for each state change the row cannot tell by itself: the send path (claim,
then Infobip's answer) writes none, because `claimed_at`, `accepted_at`/`done_at`, the status
and the reason are on the row and the message's next event starts from the state it left. The
forward-only rule (campaigns.states) is enforced here, so a late or duplicated report can never
move a message backwards.
"""

import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from campaigns import signals
from campaigns.models import COUNTER_FIELDS, Campaign, Message, MessageEvent, SendBatch
from campaigns.states import FINAL_STATES, RANK, MessageState, can_move
from contacts.models import Contact

FAILOVER_SENT_STATES = frozenset(
    {
        MessageState.ACCEPTED,
        MessageState.DELIVERED,
        MessageState.UNDELIVERABLE,
        MessageState.EXPIRED,
        MessageState.REJECTED,
    }
)


@dataclass(frozen=True)
class Outcome:
    """What became of one message, from a send response, a report, a log or Herald itself."""

    message_id: str
    state: str
    status_group: str = ""
    status_id: int | None = None
    status_name: str = ""
    error_group: str = ""
    error_id: int | None = None
    error_name: str = ""
    error_permanent: bool | None = None
    price: Decimal | None = None
    currency: str = ""
    parts: int | None = None
    bulk_id: str = ""
    at: datetime | None = None
    reason: str = ""


@dataclass
class ApplyResult:
    """How a batch of outcomes landed in the ledger."""

    applied: int = 0
    unchanged: int = 0
    unknown: list[str] = field(default_factory=list)
    campaigns: set[int] = field(default_factory=set)
    # messageId → (id, state before, channel, contact id) of each message whose state moved.
    changed: dict[str, tuple[int, str, str, int | None]] = field(default_factory=dict)


@dataclass
class _Deltas:
    counts: Counter = field(default_factory=Counter)
    cost: Decimal = Decimal(0)
    currency: str = ""


_STATE_RANK = {str(state): rank for state, rank in RANK.items()}


def _best(outcomes: Iterable[Outcome]) -> dict[str, Outcome]:
    """One outcome per message: the highest-ranked, the latest among equals (no enum look-ups)."""
    best: dict[str, Outcome] = {}
    rank = _STATE_RANK
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
    best = _best(outcomes)
    if not best:
        return result
    now = timezone.now()
    with transaction.atomic():
        rows = _lock_by_message_id([uuid.UUID(k) for k in best])
        found = {str(row[1]) for row in rows}
        result.unknown = [key for key in best if key not in found]
        updates, events = [], []
        deltas: dict[int, _Deltas] = defaultdict(_Deltas)
        for row in rows:
            pk, message_id, campaign_id, state, old_price, replaces_id, status_name = row[:7]
            outcome = best[str(message_id)]
            if not can_move(state, outcome.state):
                result.unchanged += 1
                if outcome.status_name and outcome.status_name != status_name:
                    events.append(_event(pk, MessageEvent.Kind.REPORT, state, "", outcome, now))
                continue
            result.applied += 1
            result.campaigns.add(campaign_id)
            result.changed[str(message_id)] = (pk, state, row[7], row[8])
            updates.append((pk, outcome))
            events.append(_event(pk, MessageEvent.Kind.STATE, state, outcome.state, outcome, now))
            d = deltas[campaign_id]
            d.counts[COUNTER_FIELDS[state]] -= 1
            d.counts[COUNTER_FIELDS[outcome.state]] += 1
            if replaces_id is not None:
                if state not in FAILOVER_SENT_STATES and outcome.state in FAILOVER_SENT_STATES:
                    d.counts["failover_sent"] += 1
                if outcome.state == MessageState.DELIVERED:
                    d.counts["failover_delivered"] += 1
            if outcome.price is not None:
                d.cost += outcome.price - (old_price or Decimal(0))
                d.currency = d.currency or outcome.currency
        _update_messages(updates, now)
        _insert_events(events)
        _apply_deltas(deltas)
        signals.messages_final.send(
            Message, message_ids=[pk for pk, o in updates if o.state in FINAL_STATES]
        )
    return result


@dataclass(slots=True)
class Claimed:
    """A claimed message with what sending it needs, as the claim's RETURNING read it."""

    id: int
    message_id: str  # canonical text form, made once: the send body and outcomes use it
    contact_id: int | None
    phone: str
    channel: str
    text: str
    template_values: dict | None
    callback_data: str
    replaces_id: int | None
    opted_out: bool
    claimed_at: datetime
    state: str = MessageState.QUEUED  # rows stay queued while their batch is in flight
    # The contact's zone and country as of the claim: quiet hours are checked again at send.
    zone: str = ""
    country: str = ""
    batch_id: int | None = None  # the SendBatch that holds this row while it is sent

    @property
    def pk(self) -> int:
        return self.id


_CLAIM_RETURNING = (
    "id, {message_id}, contact_id, phone, channel, text, template_values, callback_data,"
    " replaces_id"
)


@dataclass
class Screened:
    """What a claim's caller decided about the picked rows before they are batched."""

    keep: list[Claimed]
    skips: list[Outcome] = field(default_factory=list)  # queued → skipped now (opt-out…)
    holds: list[tuple[int, datetime]] = field(default_factory=list)  # not due until then
    hold_reason: str = ""


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

    `floor` is the campaign's `claim_from` hint: the scan starts there, because the index range
    of queued rows of a long campaign is mostly rows already sent. Rows below the hint that are
    still queued (not due yet, a released batch) are found by a scan from the start when the
    hinted one finds nothing (with `rescan`).
    """
    now = now or timezone.now()
    claimed = _claim(campaign_id, limit, now, floor, screen)
    if claimed is None and floor and rescan:
        claimed = _claim(campaign_id, limit, now, 0, screen)
    return claimed or []


def _live_ids_sql(campaign_param: str = "%s") -> str:
    """A subquery of the ledger ids held by the campaign's live batches."""
    batches = SendBatch._meta.db_table
    return (
        f"SELECT (jsonb_array_elements(b.ids))::bigint FROM {batches} b"  # noqa: S608
        f" WHERE b.campaign_id = {campaign_param} AND b.state = 'claimed'"
    )


def live_batch_ids(*, campaign_ids: Iterable[int]) -> set[int]:
    """The ledger ids held by these campaigns' live (claimed) batches."""
    live: set[int] = set()
    for ids in SendBatch.objects.filter(
        campaign_id__in=list(campaign_ids), state=SendBatch.State.CLAIMED
    ).values_list("ids", flat=True):
        live.update(ids)
    return live


def _claim(
    campaign_id: int,
    limit: int,
    now: datetime,
    floor: int,
    screen: Callable[[list[Claimed]], Screened] | None,
) -> list[Claimed] | None:
    """One pick and batch; None when the scan found nothing at all (the caller may rescan)."""
    table = Message._meta.db_table
    contacts = Contact._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    # One statement reads what sending needs, including the contact's opt-out as of now (a
    # STOP after launch still stops every batch not yet sent). The contact's three fields
    # come from one probe of its primary key (an array); a row whose contact was erased
    # (NULL) is still picked. No row lock and no row write: the campaign-row lock orders the
    # claims, and the batch row is the claim. Rows of live batches are left out (a hashed
    # subplan: a few thousand ids at most).
    contact = (
        f"(SELECT ARRAY[c.opted_out::text, c.timezone, c.country] FROM {contacts} c"  # noqa: S608
        f" WHERE c.id = {table}.contact_id)"
    )
    sql = (
        # Identifiers come from model meta; every value is a bound parameter.
        f"SELECT {_CLAIM_RETURNING.format(message_id=_message_id_text())}, {contact}"  # noqa: S608
        f" FROM {table} WHERE campaign_id = %s AND state = 'queued' AND id >= %s"
        " AND (not_before IS NULL OR not_before <= %s)"
        f" AND id NOT IN ({_live_ids_sql()}) ORDER BY id LIMIT %s"
    )
    params = [campaign_id, floor, adapt(now), campaign_id, limit]
    with transaction.atomic():
        if not _lock_running(campaign_id):
            return []
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if not rows:
            return None
        picked = [_claimed(row, now) for row in rows]
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
        # moves past what was picked. A scan from the start (floor 0) may lower it.
        last = rows[-1][0] + 1
        Campaign.objects.filter(pk=campaign_id).update(
            claim_from=Value(last) if not floor else Greatest(F("claim_from"), Value(last)),
        )
    return keep


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
    _insert_events(
        [
            (pk, MessageEvent.Kind.STATE, MessageState.QUEUED, MessageState.QUEUED, "", "",
             f"{reason} until {until[pk]:%Y-%m-%d %H:%M} UTC"[:500], now)
            for pk in sorted(until)
        ]
    )  # fmt: skip
    return moved


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
    """Released rows are claimable again from the hint; in a cancelled campaign, skipped."""
    table = Campaign._meta.db_table
    with connection.cursor() as cursor:
        # The campaign-row lock (as a cancel takes it) and its state after waiting for it.
        cursor.execute(
            f"UPDATE {table} SET claim_from = CASE WHEN claim_from > %s THEN %s"  # noqa: S608
            " ELSE claim_from END WHERE id = %s RETURNING state",
            [ids[0], ids[0], campaign_id],
        )
        state = cursor.fetchone()
    if state is not None and state[0] == "cancelled":
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
                cursor.execute(
                    f"SELECT id FROM {Campaign._meta.db_table} WHERE id = %s FOR NO KEY UPDATE",  # noqa: S608
                    [campaign_id],
                )
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


def messages_in_flight(*, campaign_id: int) -> int:
    """Queued rows held by the campaign's live batches: the "sending" of its page."""
    live = live_batch_ids(campaign_ids=[campaign_id])
    if not live:
        return 0
    return Message.objects.filter(id__in=sorted(live), state=MessageState.QUEUED).count()


def _lock_running(campaign_id: int) -> bool:
    """Lock the campaign's row before its messages; True while it is running.

    Campaign row first, then message rows: the order cancel and pause take them in (a claim
    that locked messages first and then waited for the counters deadlocked with a cancel). A
    pause or cancel that committed is seen here, so no batch is claimed after it.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT state FROM {Campaign._meta.db_table} WHERE id = %s FOR NO KEY UPDATE",  # noqa: S608
            [campaign_id],
        )
        row = cursor.fetchone()
    return row is not None and row[0] == "running"


def _claimed(row: tuple, now: datetime) -> Claimed:
    pk, message_id, contact_id, phone, channel, text, values, callback, replaces = row[:9]
    # The contact's [opted_out, timezone, country] as one text array (NULL: erased contact).
    opted_text, zone, country = row[9] or (None, None, None)
    if isinstance(values, str):  # Django's cursors load jsonb as text (JSONField decodes it)
        values = json.loads(values)
    return Claimed(
        pk, message_id, contact_id, phone, channel, text, values, callback or "", replaces,
        opted_text == "true", now, zone=zone or "", country=country or "",
    )  # fmt: skip


def _lock_by_message_id(message_ids: list[uuid.UUID]) -> list[tuple]:
    """Lock and read the ledger rows of these messageIds, in id order (no deadlocks)."""
    # One array parameter: 1,000 IN placeholders cost more to build than the query takes.
    columns = ", ".join(_message_id_text() if c == "message_id" else c for c in _LOCK_COLUMNS)
    sql = (
        f"SELECT {columns} FROM {Message._meta.db_table}"  # noqa: S608
        " WHERE message_id = ANY(%s::uuid[]) ORDER BY id FOR UPDATE"
    )
    with _bound_cursor() as cursor:
        # One uuid[] literal: psycopg dumps a Python list element by element.
        cursor.execute(sql, ["{" + ",".join(map(str, message_ids)) + "}"])
        return cursor.fetchall()


@contextmanager
def _bound_cursor() -> Iterator[psycopg.Cursor]:
    """A cursor on Django's connection that sends parameters apart from the SQL."""
    # Django's cursors bind client-side: a batch's 300 kB JSON or 37 kB id list was scanned
    # and quoted into the statement in Python (~9 % of a sending worker's CPU, py-spy).
    # Errors still come out as Django's (callers retry on django.db.OperationalError, and a
    # broken connection is marked for closing), as through Django's own cursors.
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def _message_id_text() -> str:
    # PostgreSQL hands back the canonical text: no UUID object is built and printed again
    # for every row (five conversions per sent message showed in the profile).
    return "message_id::text"


_LOCK_COLUMNS = (
    "id", "message_id", "campaign_id", "state", "price", "replaces_id", "status_name", "channel",
    "contact_id",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SentStatus:
    """What Infobip's send answer said of one message, in ledger terms (shared by many)."""

    state: str
    status_group: str
    status_id: int | None
    status_name: str
    reason: str


@dataclass
class SentRecord:
    """How a send answer landed: rows moved, messageIds Herald does not know, liveness marked."""

    applied: int = 0
    unknown: list[str] = field(default_factory=list)
    marked: bool = False  # the campaign's last_batch_at was set with the counters


def messages_record_sent(
    *,
    campaign_id: int,
    sent: Sequence[tuple[Claimed, SentStatus, int | None]],
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
    best: dict[int, tuple[Claimed, SentStatus, int | None]] = {}
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
            deltas = _Deltas()
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


def _sent_outcome(item: tuple[Claimed, SentStatus, int | None], bulk_id: str) -> Outcome:
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


def _update_sent(
    best: dict[int, tuple[Claimed, SentStatus, int | None]],
    bulk_id: str,
    now: datetime,
    source: str,
) -> set[int]:
    """The one ledger write of a send answer; the ids it moved."""
    # An answer repeats one status for nearly every message: each distinct status is sent once
    # (small arrays indexed by `k`), each message as three integers. Ids in ascending order:
    # rows are locked in id order, as every other ledger writer locks them (no deadlocks).
    keys: dict[int, int] = {}
    kinds: list[SentStatus] = []
    ids, parts, ks = [], [], []
    for pk in sorted(best):
        _, status, count = best[pk]
        k = keys.get(id(status))
        if k is None:
            k = keys[id(status)] = len(kinds) + 1  # SQL arrays start at 1
            kinds.append(status)
        ids.append(str(pk))
        parts.append("NULL" if count is None else str(count))
        ks.append(str(k))
    table = Message._meta.db_table
    final = [s.state in FINAL_STATES for s in kinds]
    sql = (
        f"UPDATE {table} AS m SET state = (%(state)s::varchar[])[d.k],"  # noqa: S608
        " status_group = COALESCE((%(group)s::varchar[])[d.k], m.status_group),"
        " status_id = COALESCE((%(status_id)s::int[])[d.k], m.status_id),"
        " status_name = COALESCE((%(name)s::varchar[])[d.k], m.status_name),"
        " reason = COALESCE((%(reason)s::varchar[])[d.k], m.reason),"
        " parts = COALESCE(d.parts, m.parts), bulk_id = COALESCE(%(bulk)s, m.bulk_id),"
        " accepted_at = CASE WHEN (%(state)s::varchar[])[d.k] = 'accepted' THEN %(now)s"
        " ELSE m.accepted_at END,"
        " done_at = CASE WHEN (%(final)s::boolean[])[d.k] THEN %(now)s ELSE m.done_at END,"
        " claimed_at = COALESCE(m.claimed_at, %(claimed)s)"
        " FROM unnest(%(ids)s::bigint[], %(parts)s::int[], %(ks)s::int[]) AS d(id, parts, k)"
        " WHERE m.id = d.id AND m.state = %(source)s RETURNING m.id"
    )
    params = {
        "state": [s.state for s in kinds],
        "group": [s.status_group or None for s in kinds],
        "status_id": [s.status_id for s in kinds],
        "name": [s.status_name or None for s in kinds],
        "reason": [s.reason[:500] or None for s in kinds],
        "final": final,
        "bulk": bulk_id or None,
        "now": now,
        # When the batch was claimed (the sweeper's report lag counts from it).
        "claimed": next(iter(best.values()))[0].claimed_at,
        "source": source,
        "ids": "{" + ",".join(ids) + "}",
        "parts": "{" + ",".join(parts) + "}",
        "ks": "{" + ",".join(ks) + "}",
    }
    with _bound_cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


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
        _insert_events([(pk, MessageEvent.Kind.STATE, old, new, "", "", reason, now) for pk in ids])
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


def _event(pk: int, kind: str, old: str, new: str, outcome: Outcome, now: datetime) -> tuple:
    detail = outcome.reason or outcome.error_name
    return (pk, kind, old, new, outcome.status_name, outcome.error_name, detail[:500], now)


# Columns written by _update_messages, in VALUES order (after the id).
_UPDATE_COLUMNS = [
    ("state", "varchar"),
    ("status_group", "varchar"),
    ("status_id", "integer"),
    ("status_name", "varchar"),
    ("error_group", "varchar"),
    ("error_id", "integer"),
    ("error_name", "varchar"),
    ("error_permanent", "boolean"),
    ("price", "numeric"),
    ("currency", "varchar"),
    ("parts", "integer"),
    ("bulk_id", "varchar"),
    ("reason", "varchar"),
    ("accepted_at", "timestamptz"),
    ("done_at", "timestamptz"),
]
# Fields an outcome only fills in when it carries them (never blanks what an earlier one set).
_KEEP_WHEN_EMPTY = {
    "status_group",
    "status_id",
    "status_name",
    "error_group",
    "error_id",
    "error_name",
    "error_permanent",
    "price",
    "currency",
    "parts",
    "bulk_id",
    "reason",
    "accepted_at",
    "done_at",
}


def _update_messages(updates: list[tuple[int, Outcome]], now: datetime) -> None:
    """Write the outcomes: one UPDATE … FROM jsonb_to_recordset."""
    if not updates:
        return
    names = ["id", *(name for name, _ in _UPDATE_COLUMNS)]
    rows = []
    for pk, o in updates:
        final = o.state in FINAL_STATES
        rows.append(
            (
                pk,
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
                (o.at or now) if final else None,
            )
        )
    table = Message._meta.db_table
    sets = ", ".join(
        f"{name} = COALESCE(d.{name}, {table}.{name})"
        if name in _KEEP_WHEN_EMPTY
        else f"{name} = d.{name}"
        for name, _ in _UPDATE_COLUMNS
    )
    # One JSON parameter serialised by orjson (C): a VALUES list of 16k placeholders cost
    # psycopg ~25 % of a batch to split, arrays ~8 % to dump in Python. Absent keys are NULL.
    payload = orjson.dumps(
        [{k: v for k, v in zip(names, row, strict=True) if v is not None} for row in rows],
        default=_json_default,
    ).decode()
    columns = ", ".join(f"{name} {sqltype}" for name, sqltype in _UPDATE_COLUMNS)
    sql = (
        f"UPDATE {table} SET {sets} FROM jsonb_to_recordset(%s::jsonb)"  # noqa: S608
        f" AS d(id bigint, {columns}) WHERE {table}.id = d.id"
    )
    with _bound_cursor() as cursor:
        cursor.execute(sql, [payload])


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # numeric's input reads the exact decimal text
    raise TypeError(f"cannot write {type(value).__name__} to the ledger")


_EVENT_COLUMNS = (
    "message_id",
    "kind",
    "from_state",
    "to_state",
    "status_name",
    "error_name",
    "detail",
    "created_at",
)


def _insert_events(events: list[tuple]) -> None:
    """Insert event rows with COPY (the hot path)."""
    if not events:
        return
    table = MessageEvent._meta.db_table
    copy_sql = f"COPY {table} ({', '.join(_EVENT_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for event in events:
            copy.write_row(event)


def _apply_deltas(deltas: dict[int, "_Deltas"]) -> None:
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


# --- Reported outcomes as one statement (the report path) -------------------------------------
#
# Delivery reports arrive by the thousand per processing batch. `messages_apply_reports` does
# what `messages_apply_outcomes` does — forward-only, counters and events in step, one
# `messages_final` signal — but the lock, the ledger update and the event rows are one SQL
# statement over one JSON parameter: no per-report Python beyond building that parameter, no
# second round trip, no COPY from Python.

_RANK_SQL = (
    "CASE old.state "
    + " ".join(f"WHEN '{state}' THEN {rank}" for state, rank in _STATE_RANK.items())
    + " ELSE 99 END"  # a state this code does not know never moves
)


def _reported_sql() -> str:
    table, events = Message._meta.db_table, MessageEvent._meta.db_table
    columns = ", ".join(f"{name} {sqltype}" for name, sqltype in _UPDATE_COLUMNS)
    sets = ", ".join(
        f"{name} = COALESCE(d.{name}, t.{name})"
        if name in _KEEP_WHEN_EMPTY
        else f"{name} = d.{name}"
        for name, _ in _UPDATE_COLUMNS
    )
    return f"""
WITH d AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(payload)s::jsonb)
        AS d(message_id uuid, rank integer, {columns})
), old AS MATERIALIZED (
    SELECT m.id, m.message_id, m.campaign_id, m.state, m.price, m.replaces_id, m.status_name,
           m.channel, m.contact_id
    FROM {table} m WHERE m.message_id = ANY(ARRAY(SELECT message_id FROM d))
    ORDER BY m.id FOR UPDATE
), moved AS (
    UPDATE {table} t SET {sets}
    FROM old JOIN d ON d.message_id = old.message_id
    WHERE t.id = old.id AND d.rank > {_RANK_SQL}
    RETURNING t.id
), rows AS (
    SELECT old.*, d.state AS new_state, d.status_name AS new_status, d.error_name AS new_error,
           d.reason AS new_reason, moved.id IS NOT NULL AS moved
    FROM old JOIN d ON d.message_id = old.message_id LEFT JOIN moved ON moved.id = old.id
), ev AS (
    INSERT INTO {events} ({", ".join(_EVENT_COLUMNS)})
    SELECT id, CASE WHEN moved THEN %(state)s ELSE %(report)s END, state,
           CASE WHEN moved THEN new_state ELSE '' END, COALESCE(new_status, ''),
           COALESCE(new_error, ''), left(COALESCE(new_reason, new_error, ''), 500), %(now)s
    FROM rows WHERE moved OR (new_status IS NOT NULL AND new_status <> status_name)
)
SELECT id, message_id::text, campaign_id, state, price, replaces_id, channel, contact_id,
       new_state, moved
FROM rows ORDER BY id
"""  # noqa: S608


def messages_apply_reports(*, outcomes: Sequence[Outcome]) -> ApplyResult:
    """Apply reported outcomes in one statement: forward-only, with counters and events."""
    result = ApplyResult()
    best = _best(outcomes)
    if not best:
        return result
    now = timezone.now()
    names = ["message_id", "rank", *(name for name, _ in _UPDATE_COLUMNS)]
    payload = []
    for message_id, o in best.items():
        final = o.state in FINAL_STATES
        row = (
            message_id, _STATE_RANK[o.state], o.state, o.status_group or None, o.status_id,
            o.status_name or None, o.error_group or None, o.error_id, o.error_name or None,
            o.error_permanent, o.price, o.currency or None, o.parts, o.bulk_id or None,
            o.reason[:500] or None,
            (o.at or now) if o.state == MessageState.ACCEPTED else None,
            (o.at or now) if final else None,
        )  # fmt: skip
        payload.append({k: v for k, v in zip(names, row, strict=True) if v is not None})
    params = {
        "payload": orjson.dumps(payload, default=_json_default).decode(),
        "state": MessageEvent.Kind.STATE.value,
        "report": MessageEvent.Kind.REPORT.value,
        "now": now,
    }
    with transaction.atomic():
        with _bound_cursor() as cursor:
            cursor.execute(_reported_sql(), params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
        found = set()
        deltas: dict[int, _Deltas] = defaultdict(_Deltas)
        final_ids = []
        for found_row in rows:
            pk, message_id, campaign_id, state, old_price, replaces_id, channel, contact = (
                found_row[:8]
            )
            new, moved = found_row[8], found_row[9]
            found.add(message_id)
            if not moved:
                result.unchanged += 1
                continue
            result.applied += 1
            result.campaigns.add(campaign_id)
            result.changed[message_id] = (pk, state, channel, contact)
            if new in FINAL_STATES:
                final_ids.append(pk)
            d = deltas[campaign_id]
            d.counts[COUNTER_FIELDS[state]] -= 1
            d.counts[COUNTER_FIELDS[new]] += 1
            if replaces_id is not None:
                if state not in FAILOVER_SENT_STATES and new in FAILOVER_SENT_STATES:
                    d.counts["failover_sent"] += 1
                if new == MessageState.DELIVERED:
                    d.counts["failover_delivered"] += 1
            price = best[message_id].price
            if price is not None:
                d.cost += price - (old_price or Decimal(0))
                d.currency = d.currency or best[message_id].currency
        result.unknown = [key for key in best if key not in found]
        _apply_deltas(deltas)
        signals.messages_final.send(Message, message_ids=final_ids)
    return result
