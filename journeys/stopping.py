"""Entries taken out of the engine's hands: stopped (archive), or moved to the live version.

Both lock the entries first (waiting for a batch the engine holds, which commits without
waiting on anything these hold), then write the ledger rows and the counters, as sets.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from django.utils import timezone
from psycopg import sql

from journeys import signals
from journeys.batch import definition_of
from journeys.models import EntryStep, Journey, JourneyEntry
from journeys.plan import bound_cursor, counts_write

_LEAVE = sql.SQL(
    """
    UPDATE {entries} AS e SET state = 'done', exit_reason = %(reason)s, exited_at = %(now)s,
        due_at = NULL, steps_taken = e.steps_taken + 1
    WHERE e.id IN (SELECT id FROM {entries} WHERE journey_id = %(journey)s AND state = 'active'
                   ORDER BY id LIMIT %(limit)s FOR UPDATE)
    RETURNING e.id, e.version_id, e.step, e.steps_taken
    """
)
_LEDGER = sql.SQL(
    """
    INSERT INTO {steps} (entry_id, n, step_id, step_type, at, outcome, detail, message)
    SELECT id, n, step, '', %s, %s, %s, NULL
    FROM unnest(%s::bigint[], %s::int[], %s::text[]) AS r(id, n, step)
    """
)


def entries_leave(*, journey_id: int, reason: str, limit: int) -> int:
    """Up to `limit` active entries of the journey leave for `reason` (caller's transaction)."""
    now = timezone.now()
    with bound_cursor() as cursor:
        cursor.execute(
            _LEAVE.format(entries=sql.Identifier(JourneyEntry._meta.db_table)),
            {"reason": str(reason), "now": now, "journey": journey_id, "limit": limit},
        )
        rows = cursor.fetchall()
        if not rows:
            return 0
        cursor.execute(
            _LEDGER.format(steps=sql.Identifier(EntryStep._meta.db_table)),
            [
                now,
                "exited",
                f"journey {reason}",
                [r[0] for r in rows],
                [r[3] for r in rows],
                [r[2] for r in rows],
            ],
        )
        counts: dict[tuple[int, str], Counter[str]] = defaultdict(Counter[str])
        for _, version_id, step, _ in rows:
            counts[(version_id, step)]["waiting"] -= 1
            counts[(version_id, step)][f"exited_{reason}"] += 1
        counts_write(cursor, journey_id, counts)
    signals.journey_exited.send(
        Journey, journey_id=journey_id, exits=[(r[0], str(reason)) for r in rows]
    )
    return len(rows)


def entries_to_version(*, journey_id: int, version_id: int) -> int:
    """Entries on older versions at a step the live version has move to it (their step kept)."""
    steps = sorted(definition_of(version_id).steps)
    moved = 0
    for old in (
        JourneyEntry.objects.filter(journey_id=journey_id, state="active")
        .exclude(version_id=version_id)
        .values_list("version_id", flat=True)
        .distinct()
    ):
        with bound_cursor() as cursor:
            cursor.execute(
                sql.SQL(
                    """
                    UPDATE {entries} SET version_id = %(version)s
                    WHERE id IN (SELECT id FROM {entries} WHERE journey_id = %(journey)s
                                 AND state = 'active' AND version_id = %(old)s
                                 AND step = ANY(%(steps)s) ORDER BY id FOR UPDATE)
                    RETURNING step
                    """
                ).format(entries=sql.Identifier(JourneyEntry._meta.db_table)),
                {"version": version_id, "journey": journey_id, "old": old, "steps": steps},
            )
            rows = [r[0] for r in cursor.fetchall()]
            counts: dict[tuple[int, str], Counter[str]] = defaultdict(Counter[str])
            for step in rows:
                counts[(old, step)]["waiting"] -= 1
                counts[(version_id, step)]["waiting"] += 1
            counts_write(cursor, journey_id, counts)
        moved += len(rows)
    return moved
