"""The journey engine: due entries, taken in batches, each batch one transaction.

A batch claims up to HERALD_JOURNEY_BATCH due entries of one journey with `FOR UPDATE SKIP
LOCKED` (so workers running side by side take different entries and none waits for another),
decides each one's step (journeys/steps.py, journeys/sending.py) — and the steps after it that
are due at once, in the same batch — and writes the decisions as
sets (journeys/plan.py): the journey-ledger rows, the entries' moves, the counters, and for
send steps the campaign ledger rows. All of it commits together or not at all, so a worker
killed mid-batch leaves the entries due as they were, and the next batch takes them again:
no step is lost, none is taken twice, and no message is written twice. What a send step
wrote is sent after the commit by the campaign's batch chains (claims, batches of 1,000).

The journey's row is read `FOR SHARE`: a pause or an archive waits for the batches in flight
and every batch after it sees it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from psycopg import sql

from campaigns.models import Campaign
from core.queueing import enqueue_on_commit
from journeys import signals
from journeys.arrival import ACTIVE, WAITING, leave
from journeys.batch import Batch, definition_of
from journeys.models import Event, ExitReason, Journey, JourneyEntry, JourneyState
from journeys.plan import Due, Plan, bound_cursor, plan_write
from journeys.spec import MAX_STEPS
from journeys.steps import run_group
from journeys.waits import happened

# Due entries of one journey, oldest due first, skipping those another batch holds. Served by
# the partial index journey_entry_due (journey, due_at) of active entries.
_CLAIM = sql.SQL(
    """
    SELECT id, version_id, contact_id, seq, key, step, phase, due_at, wait_event, waiting_since,
           resolved, last_message, steps_taken, entered_at, properties
    FROM {entries}
    WHERE journey_id = %(journey)s AND state = 'active' AND due_at <= %(now)s
    ORDER BY due_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
    """
)

# The journey's state as of now, held (shared) until the batch commits.
_JOURNEY = sql.SQL(
    "SELECT state, seed, goal_event, archive_mode FROM {journeys} WHERE id = %s FOR SHARE"
)


@dataclass
class BatchResult:
    """What one batch did: how many entries it took, and why sends must stop (budget)."""

    taken: int = 0
    budget_reason: str = ""


def journey_runnable(state: str, archive_mode: str) -> bool:
    """Whether a journey's entries move: active, or archived letting contacts finish."""
    return state == JourneyState.ACTIVE or (
        state == JourneyState.ARCHIVED and archive_mode == "finish"
    )


def journey_spent(journey_id: int) -> Decimal:
    """What Infobip has charged for the journey's messages so far (its send campaigns)."""
    total = Campaign.objects.filter(journey_step__version__journey_id=journey_id).aggregate(
        spent=Sum("cost_amount")
    )["spent"]
    return total or Decimal(0)


def journey_advance(
    *,
    journey_id: int,
    limit: int | None = None,
    now: dt.datetime | None = None,
    dry: bool = False,
) -> BatchResult:
    """Take one batch of the journey's due entries through their steps (one transaction).

    `dry` (a replay, journeys/simulate.py): update steps are recorded, not applied.
    """
    now = now or timezone.now()
    limit = limit or settings.HERALD_JOURNEY_BATCH
    result = BatchResult()
    with transaction.atomic(), bound_cursor() as cursor:
        cursor.execute(
            _JOURNEY.format(journeys=sql.Identifier(Journey._meta.db_table)), [journey_id]
        )
        row = cursor.fetchone()
        if row is None or not journey_runnable(row[0], row[3]):
            return result
        _, seed, goal_event, _ = row
        cursor.execute(
            _CLAIM.format(entries=sql.Identifier(JourneyEntry._meta.db_table)),
            {"journey": journey_id, "now": now, "limit": limit},
        )
        dues = [_due(r) for r in cursor.fetchall()]
        if not dues:
            return result
        result.taken = len(dues)
        batch = Batch(journey_id, seed, goal_event, dues, Plan(journey_id, now), dry=dry)
        dues = _goals(batch, dues)
        # Entries go on through every step that is due at once (a send, a branch, a wait that
        # already came) in this batch: one claim and one write of each entry per batch, not one
        # per step. The steps form no loop, so an entry takes each step at most once.
        for _ in range(MAX_STEPS + 1):
            dues, held = _budget(batch, dues)
            result.budget_reason = result.budget_reason or held
            groups: dict[tuple[int, str, str], list[Due]] = defaultdict(list)
            for due in dues:
                groups[(due.version_id, due.step, due.phase)].append(due)
            for (version_id, step_id, phase), group in sorted(groups.items()):
                run_group(batch, version_id, step_id, phase, group)
            _wait_for_arrivals(batch, dues)
            dues = _going_on(batch, dues)
            if not dues:
                break
        plan = batch.plan
        plan_write(plan)
        if plan.exits:
            signals.journey_exited.send(Journey, journey_id=journey_id, exits=plan.exits)
        if plan.notifies:
            signals.journey_notified.send(Journey, journey_id=journey_id, items=plan.notifies)
        for campaign_id in sorted(plan.campaigns):
            enqueue_on_commit(partial(_dispatch, campaign_id), what=f"campaign {campaign_id}")
    return result


def _due(row: tuple[Any, ...]) -> Due:
    # Django's connection hands jsonb back as text (its JSONField parses it): parse it here.
    properties = row[14]
    if isinstance(properties, str | bytes):
        properties = orjson.loads(properties)
    (
        pk,
        version_id,
        contact_id,
        seq,
        key,
        step,
        phase,
        due_at,
        wait_event,
        waiting_since,
        resolved,
        last_message,
        steps_taken,
        entered_at,
    ) = row[:14]
    return Due(
        pk,
        version_id,
        contact_id,
        seq,
        key,
        step,
        phase,
        due_at,
        wait_event,
        waiting_since,
        resolved,
        last_message,
        steps_taken,
        entered_at,
        properties if isinstance(properties, dict) else {},
    )


def _dispatch(campaign_id: int) -> None:
    from journeys.wake import campaign_wake

    campaign_wake(campaign_id=campaign_id)


def _goals(batch: Batch, dues: list[Due]) -> list[Due]:
    """Entries whose goal event came (matched on the entry's key) leave before their step."""
    if not batch.goal_event:
        return dues
    since = min(due.entered_at for due in dues)
    reached: dict[int, list[tuple[str, dt.datetime]]] = defaultdict(list)
    for contact_id, key, at in Event.objects.filter(
        name=batch.goal_event, contact_id__in={d.contact_id for d in dues}, received_at__gte=since
    ).values_list("contact_id", "key", "received_at"):
        reached[contact_id].append((key, at))
    rest = []
    for due in dues:
        hit = any(
            at >= due.entered_at and (not due.key or key == due.key)
            for key, at in reached.get(due.contact_id, ())
        )
        if hit:
            batch.plan.record(due, "exited", f"goal {batch.goal_event}")
            leave(batch.plan, due, ExitReason.GOAL, taken=due.steps_taken + 1)
        else:
            rest.append(due)
    return rest


def _budget(batch: Batch, dues: list[Due]) -> tuple[list[Due], str]:
    """Send steps are held (not taken) once the journey's spend reaches its max_spend."""
    caps = {
        due.version_id: definition_of(due.version_id).raw.get("max_spend")
        for due in dues
        if due.phase != WAITING and definition_of(due.version_id).step(due.step).type == "send"
    }
    caps = {k: v for k, v in caps.items() if v not in (None, "")}
    if not caps:
        return dues, ""
    spent = journey_spent(batch.journey_id)
    over = {k for k, cap in caps.items() if spent >= Decimal(str(cap))}
    if not over:
        return dues, ""
    cap = min(Decimal(str(caps[k])) for k in over)
    reason = f"budget cap reached: spent {spent:.4f} of {cap:.4f}"
    keep = [
        due
        for due in dues
        if not (
            due.version_id in over
            and due.phase != WAITING
            and definition_of(due.version_id).step(due.step).type == "send"
        )
    ]
    return keep, reason


def _going_on(batch: Batch, dues: list[Due]) -> list[Due]:
    """The entries of this round whose next step is due now, as dues at that step."""
    now, going = batch.now, []
    for due in dues:
        move = batch.plan.moves.get(due.id)
        if move is None or move.state != ACTIVE or move.due_at is None or move.due_at > now:
            continue
        last = move.last_message if move.last_message is not None else due.last_message
        going.append(
            Due(
                due.id,
                due.version_id,
                due.contact_id,
                due.seq,
                due.key,
                move.step,
                move.phase,
                move.due_at,
                move.wait_event,
                move.waiting_since,
                move.resolved,
                last,
                move.steps_taken,
                due.entered_at,
                due.properties,
            )
        )
    return going


def _wait_for_arrivals(batch: Batch, round_dues: list[Due]) -> None:
    """Entries that just reached a wait_for whose awaited thing already happened: due now."""
    moves = [batch.plan.moves[d.id] for d in round_dues if d.id in batch.plan.moves]
    arrived = [m for m in moves if m.wait_event and m.phase == WAITING and not m.resolved]
    if not arrived:
        return
    dues = {due.id: due for due in round_dues}
    found = happened(
        [
            (
                m.id,
                dues[m.id].contact_id,
                dues[m.id].key,
                m.wait_event,
                m.last_message or dues[m.id].last_message,
                m.waiting_since or batch.now,
            )
            for m in arrived
        ]
    )
    for move in arrived:
        if move.id in found:
            move.resolved, move.due_at = "then", batch.now


def journey_due_exists(*, journey_id: int, now: dt.datetime | None = None) -> bool:
    """Whether the journey has entries due now (one probe of the due index)."""
    return JourneyEntry.objects.filter(
        journey_id=journey_id, state=JourneyEntry.State.ACTIVE, due_at__lte=now or timezone.now()
    ).exists()
