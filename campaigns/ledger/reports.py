"""Reported outcomes as one statement (the report path).

Delivery reports arrive by the thousand per processing batch. `messages_apply_reports` does
what `messages_apply_outcomes` does — forward-only, counters and events in step, one
`messages_final` signal — but the lock, the ledger update and the event rows are one SQL
statement (APPLY_REPORTS) over one JSON parameter: no per-report Python beyond building that
parameter, no second round trip, no COPY from Python.
"""

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

import orjson
from django.db import transaction
from django.utils import timezone
from psycopg.rows import args_row

from campaigns import signals
from campaigns.ledger.outcomes import apply_deltas, best_outcomes, outcome_columns
from campaigns.ledger.statements import (
    APPLY_REPORTS,
    ReportedRow,
    bound_cursor,
    json_default,
)
from campaigns.ledger.types import FAILOVER_SENT_STATES, STATE_RANK, ApplyResult, Deltas, Outcome
from campaigns.models import COUNTER_FIELDS, Message, MessageEvent
from campaigns.states import FINAL_STATES, MessageState


def messages_apply_reports(*, outcomes: Sequence[Outcome]) -> ApplyResult:
    """Apply reported outcomes in one statement: forward-only, with counters and events."""
    result = ApplyResult()
    best = best_outcomes(outcomes)
    if not best:
        return result
    now = timezone.now()
    payload = [
        {"message_id": message_id, "rank": STATE_RANK[o.state], **outcome_columns(o, now)}
        for message_id, o in best.items()
    ]
    params = {
        "payload": orjson.dumps(payload, default=json_default).decode(),
        "state": MessageEvent.Kind.STATE.value,
        "report": MessageEvent.Kind.REPORT.value,
        "now": now,
    }
    with transaction.atomic():
        with bound_cursor(args_row(ReportedRow)) as cursor:
            cursor.execute(APPLY_REPORTS, params)
            rows = cursor.fetchall()
        found = set()
        deltas: dict[int, Deltas] = defaultdict(Deltas)
        final_ids = []
        for row in rows:
            found.add(row.message_id)
            if not row.moved:
                result.unchanged += 1
                continue
            result.applied += 1
            result.campaigns.add(row.campaign_id)
            result.changed[row.message_id] = (row.id, row.state, row.channel, row.contact_id)
            if row.new_state in FINAL_STATES:
                final_ids.append(row.id)
            d = deltas[row.campaign_id]
            d.counts[COUNTER_FIELDS[row.state]] -= 1
            d.counts[COUNTER_FIELDS[row.new_state]] += 1
            if row.replaces_id is not None:
                if row.state not in FAILOVER_SENT_STATES and row.new_state in FAILOVER_SENT_STATES:
                    d.counts["failover_sent"] += 1
                if row.new_state == MessageState.DELIVERED:
                    d.counts["failover_delivered"] += 1
            price = best[row.message_id].price
            if price is not None:
                d.cost += price - (row.price or Decimal(0))
                d.currency = d.currency or best[row.message_id].currency
        result.unknown = [key for key in best if key not in found]
        apply_deltas(deltas)
        signals.messages_final.send(Message, message_ids=final_ids)
    return result
