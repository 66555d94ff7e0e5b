"""The ledger's SQL: named statements composed with psycopg.sql, and the typed rows they return.

Each statement is explained once, here; the modules beside this one only run them. Table and
column names come from the models (`sql.Identifier`), every value is a bound parameter, and
the few constants written into the text (the states' ranks) are `sql.Literal`s.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

import psycopg
from django.db import connection
from psycopg import sql
from psycopg.rows import RowFactory, args_row

from campaigns.ledger.types import STATE_RANK
from campaigns.models import Campaign, Message, MessageEvent, SendBatch
from contacts.models import Contact

R = TypeVar("R")

_MESSAGES = sql.Identifier(Message._meta.db_table)
_EVENTS = sql.Identifier(MessageEvent._meta.db_table)
_CAMPAIGNS = sql.Identifier(Campaign._meta.db_table)
_BATCHES = sql.Identifier(SendBatch._meta.db_table)
_CONTACTS = sql.Identifier(Contact._meta.db_table)


# --- Rows ---------------------------------------------------------------------------------


class LockedRow(NamedTuple):
    """A ledger row as LOCK_BY_MESSAGE_ID reads it before an outcome is applied."""

    id: int
    message_id: str  # canonical text: PostgreSQL prints it once, Python never does
    campaign_id: int
    state: str
    price: Decimal | None
    replaces_id: int | None
    status_name: str
    channel: str
    contact_id: int | None


class ReportedRow(NamedTuple):
    """One reported message as APPLY_REPORTS leaves it: the row before, and whether it moved."""

    id: int
    message_id: str
    campaign_id: int
    state: str  # before the report
    price: Decimal | None  # before the report
    replaces_id: int | None
    channel: str
    contact_id: int | None
    new_state: str
    moved: bool


class StateRow(NamedTuple):
    """A campaign's state, read under its row lock."""

    state: str


class QueuedRow(NamedTuple):
    """QUEUED_UNCLAIMABLE: queued rows no claim can pick now, and the queued counter."""

    unclaimable: int
    queued: int


# --- Cursors ------------------------------------------------------------------------------


@contextmanager
def bound_cursor(row_factory: RowFactory[R]) -> Iterator[psycopg.Cursor[R]]:
    """A cursor on Django's connection that sends parameters apart from the SQL, making rows
    with `row_factory` (psycopg.rows: args_row(SomeRow), tuple_row)."""
    # Django's cursors bind client-side: a batch's 300 kB JSON or 37 kB id list was scanned
    # and quoted into the statement in Python (~9 % of a sending worker's CPU, py-spy).
    # Errors still come out as Django's (callers retry on django.db.OperationalError, and a
    # broken connection is marked for closing), as through Django's own cursors.
    connection.ensure_connection()
    raw = connection.connection
    with connection.wrap_database_errors, psycopg.Cursor(raw, row_factory=row_factory) as cursor:
        yield cursor


def fetch_rows(cursor: Any, row: Callable[..., R]) -> list[R]:
    """Every row of a Django cursor's last statement, as `row` (through psycopg's factory)."""
    cursor.cursor.row_factory = args_row(row)
    rows: list[R] = cursor.fetchall()
    return rows


# --- Claims -------------------------------------------------------------------------------

# The campaign row, locked before any of its messages (the order cancel and pause take them
# in: a claim that locked messages first and then waited for the counters deadlocked with a
# cancel). NO KEY UPDATE: the counters change, the key does not, so inserts of messages
# referencing the campaign are not blocked. Its state says whether claims may go on.
LOCK_CAMPAIGN = sql.SQL("SELECT state FROM {campaigns} WHERE id = %s FOR NO KEY UPDATE").format(
    campaigns=_CAMPAIGNS
)

# What a claim reads of each picked row: what sending needs, including the contact's opt-out
# as of now (a STOP after launch still stops every batch not yet sent). The contact's three
# fields come from one probe of its primary key (an array); a row whose contact was erased
# (NULL) is still picked. Each row becomes a `Claimed` (claims.claimed_row: the sending path's
# hottest rows, so no tuple in between).
_CLAIMED_COLUMNS = sql.SQL("""
    id, message_id::text, contact_id, phone, channel, text, template_values, callback_data,
    replaces_id,
    (SELECT ARRAY[c.opted_out::text, c.timezone, c.country]
     FROM {contacts} c WHERE c.id = {messages}.contact_id)
""").format(messages=_MESSAGES, contacts=_CONTACTS)

# Rows of the campaign's live batches are left out of every pick (a hashed subplan: a few
# thousand ids at most).
_NOT_IN_LIVE_BATCH = sql.SQL("""
    id NOT IN (SELECT (jsonb_array_elements(b.ids))::bigint FROM {batches} b
               WHERE b.campaign_id = %(campaign)s AND b.state = 'claimed')
""").format(batches=_BATCHES)

# Up to %(limit)s due queued rows from the claim hint on, by the (campaign, id) index: the
# state is read from the row, not from an index (no index names it, so the send answer's
# update is HOT), and the rows from the hint on are nearly all queued (the hint moves past
# what was picked). No row lock and no row write: the campaign-row lock orders the claims,
# and the batch row is the claim.
CLAIM = sql.SQL("""
    SELECT {columns} FROM {messages}
    WHERE campaign_id = %(campaign)s AND id >= %(floor)s AND state = 'queued'
      AND (not_before IS NULL OR not_before <= %(now)s) AND {not_live}
    ORDER BY id LIMIT %(limit)s
""").format(columns=_CLAIMED_COLUMNS, messages=_MESSAGES, not_live=_NOT_IN_LIVE_BATCH)

# CLAIM runs with these two settings (SET LOCAL: this transaction only, reset right after).
# A campaign's id is in no statistics until autovacuum analyzes the ledger — for a big campaign
# on a big ledger, long after its first claims — so the planner expects a handful of rows from
# the hint on, reads them all with a bitmap scan and sorts them for the first `limit`: 17,000 to
# 204,000 rows and 46 to 580 ms per claim in a 300,000-recipient fan-out, with the campaign row
# locked (bench/HISTORY.md, 2026-12-07). The (campaign, id) index read in order and stopped at
# `limit` is the right plan at every size and every state of the statistics.
IN_INDEX_ORDER = sql.SQL("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off")
PLANNER_RESET = sql.SQL(
    "SET LOCAL enable_bitmapscan TO DEFAULT; SET LOCAL enable_seqscan TO DEFAULT"
)

# Rows held by quiet hours whose time has come: the hint moved past them while they waited.
# The partial index `message_waiting` holds only rows whose `not_before` is set (the answer
# clears it), so this reads the held rows, not the campaign.
CLAIM_DUE = sql.SQL("""
    SELECT {columns} FROM {messages}
    WHERE campaign_id = %(campaign)s AND not_before IS NOT NULL AND not_before <= %(now)s
      AND state = 'queued' AND {not_live}
    ORDER BY id LIMIT %(limit)s
""").format(columns=_CLAIMED_COLUMNS, messages=_MESSAGES, not_live=_NOT_IN_LIVE_BATCH)

# Queued rows that no claim could pick now: in a live batch or held past now (the page's
# "waiting"). When the campaign's queued counter says more are queued than these, some rows
# sit below the hint unseen (an appender's transaction that committed after a later one's
# rows were claimed), and only then does a claim scan the campaign from its first row.
QUEUED_UNCLAIMABLE = sql.SQL("""
    SELECT (SELECT count(*) FROM {messages}
            WHERE id IN (SELECT (jsonb_array_elements(b.ids))::bigint FROM {batches} b
                         WHERE b.campaign_id = %(campaign)s AND b.state = 'claimed')
              AND state = 'queued')
         + (SELECT count(*) FROM {messages}
            WHERE campaign_id = %(campaign)s AND not_before IS NOT NULL
              AND not_before > %(now)s AND state = 'queued'),
           (SELECT count_queued FROM {campaigns} WHERE id = %(campaign)s)
""").format(messages=_MESSAGES, batches=_BATCHES, campaigns=_CAMPAIGNS)

# Released rows go back to the queue: the claim hint moves down to the lowest of them. The
# UPDATE takes the campaign-row lock (as a cancel takes it) and returns the state after
# waiting for it, so a cancel that committed meanwhile is seen.
RELEASED_BACK = sql.SQL("""
    UPDATE {campaigns}
    SET claim_from = CASE WHEN claim_from > %(lowest)s THEN %(lowest)s ELSE claim_from END
    WHERE id = %(campaign)s
    RETURNING state
""").format(campaigns=_CAMPAIGNS)

# --- Outcomes -----------------------------------------------------------------------------

# The ledger rows of these messageIds, locked in id order (every ledger writer locks in that
# order: no deadlocks). One uuid[] parameter: 1,000 IN placeholders cost more to build than
# the query takes to run.
LOCK_BY_MESSAGE_ID = sql.SQL("""
    SELECT id, message_id::text, campaign_id, state, price, replaces_id, status_name, channel,
           contact_id
    FROM {messages} WHERE message_id = ANY(%s::uuid[]) ORDER BY id FOR UPDATE
""").format(messages=_MESSAGES)

# Columns an outcome writes, with their SQL types, in the order of its JSON record.
UPDATE_COLUMNS = (
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
)
# Fields an outcome only fills in when it carries them (never blanks what an earlier one set).
_KEEP_WHEN_EMPTY = frozenset(name for name, _ in UPDATE_COLUMNS if name != "state")


def _record_columns() -> sql.Composed:
    """`name type, …` of UPDATE_COLUMNS, for jsonb_to_recordset's column list."""
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(sqltype))
        for name, sqltype in UPDATE_COLUMNS
    )


def _assignments(target: str) -> sql.Composed:
    """`name = COALESCE(d.name, target.name)`, or `name = d.name` for the state."""
    parts = []
    for name, _ in UPDATE_COLUMNS:
        column, old = sql.Identifier(name), sql.Identifier(target, name)
        new = sql.Identifier("d", name)
        if name in _KEEP_WHEN_EMPTY:
            parts.append(sql.SQL("{} = COALESCE({}, {})").format(column, new, old))
        else:
            parts.append(sql.SQL("{} = {}").format(column, new))
    return sql.SQL(", ").join(parts)


# The outcomes the forward-only check let through, one record each in one JSON parameter
# (serialised by orjson in C: a VALUES list of 16k placeholders cost psycopg ~25 % of a batch
# to split, arrays ~8 % to dump in Python). Absent keys are NULL, so COALESCE keeps the
# stored value.
UPDATE_MESSAGES = sql.SQL("""
    UPDATE {messages} SET {assignments}
    FROM jsonb_to_recordset(%s::jsonb) AS d(id bigint, {columns})
    WHERE {messages}.id = d.id
""").format(
    messages=_MESSAGES,
    assignments=_assignments(Message._meta.db_table),
    columns=_record_columns(),
)

EVENT_COLUMNS = (
    "message_id",
    "kind",
    "from_state",
    "to_state",
    "status_name",
    "error_name",
    "detail",
    "created_at",
)

# The event rows of a write, streamed (COPY is the cheapest insert on the hot path).
COPY_EVENTS = sql.SQL("COPY {events} ({columns}) FROM STDIN").format(
    events=_EVENTS, columns=sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS))
)

# --- The send answer ----------------------------------------------------------------------

# The one ledger write of a send answer. An answer repeats one status for nearly every
# message: each distinct status is sent once (small arrays indexed by `k`), each message as
# three integers (id, parts, k), ids ascending so rows are locked in id order. The
# `state = %(source)s` condition is the lock and the forward-only check at once (PostgreSQL
# re-checks it after waiting on a row another transaction holds); the ids it returns (one
# scalar each) are the rows it moved. No column it writes is indexed, so the update is HOT
# (heap-only) when the page has room — except `not_before` of a row quiet hours held, cleared
# so that `message_waiting` keeps only rows still waiting (NULL to NULL changes no index).
UPDATE_SENT = sql.SQL("""
    UPDATE {messages} AS m SET
        state = (%(state)s::varchar[])[d.k],
        status_group = COALESCE((%(group)s::varchar[])[d.k], m.status_group),
        status_id = COALESCE((%(status_id)s::int[])[d.k], m.status_id),
        status_name = COALESCE((%(name)s::varchar[])[d.k], m.status_name),
        reason = COALESCE((%(reason)s::varchar[])[d.k], m.reason),
        parts = COALESCE(d.parts, m.parts),
        bulk_id = COALESCE(%(bulk)s, m.bulk_id),
        accepted_at = CASE WHEN (%(state)s::varchar[])[d.k] = 'accepted' THEN %(now)s
                      ELSE m.accepted_at END,
        done_at = CASE WHEN (%(final)s::boolean[])[d.k] THEN %(now)s ELSE m.done_at END,
        claimed_at = COALESCE(m.claimed_at, %(claimed)s),
        not_before = NULL
    FROM unnest(%(ids)s::bigint[], %(parts)s::int[], %(ks)s::int[]) AS d(id, parts, k)
    WHERE m.id = d.id AND m.state = %(source)s
    RETURNING m.id
""").format(messages=_MESSAGES)

# --- Reports as one statement -------------------------------------------------------------

# A stored state's rank; a state this code does not know never moves (99).
_OLD_RANK = sql.SQL("CASE old.state {} ELSE 99 END").format(
    sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN {}").format(sql.Literal(state), sql.Literal(rank))
        for state, rank in STATE_RANK.items()
    )
)

# What messages_apply_outcomes does for a batch of reports, in one round trip: `d` is the
# batch (one JSON record per message, with the new state's rank); `old` locks and reads the
# rows in id order; `moved` updates those the report outranks; `rows` joins what was with
# what moved; `ev` writes a state event for each move and a report event for a report that
# moved nothing but says something new. The rows come back for the counters and the result.
APPLY_REPORTS = sql.SQL("""
WITH d AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(payload)s::jsonb)
        AS d(message_id uuid, rank integer, {columns})
), old AS MATERIALIZED (
    SELECT m.id, m.message_id, m.campaign_id, m.state, m.price, m.replaces_id, m.status_name,
           m.channel, m.contact_id
    FROM {messages} m WHERE m.message_id = ANY(ARRAY(SELECT message_id FROM d))
    ORDER BY m.id FOR UPDATE
), moved AS (
    UPDATE {messages} t SET {assignments}
    FROM old JOIN d ON d.message_id = old.message_id
    WHERE t.id = old.id AND d.rank > {old_rank}
    RETURNING t.id
), rows AS (
    SELECT old.*, d.state AS new_state, d.status_name AS new_status, d.error_name AS new_error,
           d.reason AS new_reason, moved.id IS NOT NULL AS moved
    FROM old JOIN d ON d.message_id = old.message_id LEFT JOIN moved ON moved.id = old.id
), ev AS (
    INSERT INTO {events} ({event_columns})
    SELECT id, CASE WHEN moved THEN %(state)s ELSE %(report)s END, state,
           CASE WHEN moved THEN new_state ELSE '' END, COALESCE(new_status, ''),
           COALESCE(new_error, ''), left(COALESCE(new_reason, new_error, ''), 500), %(now)s
    FROM rows WHERE moved OR (new_status IS NOT NULL AND new_status <> status_name)
)
SELECT id, message_id::text, campaign_id, state, price, replaces_id, channel, contact_id,
       new_state, moved
FROM rows ORDER BY id
""").format(
    columns=_record_columns(),
    messages=_MESSAGES,
    events=_EVENTS,
    assignments=_assignments("t"),
    old_rank=_OLD_RANK,
    event_columns=sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS)),
)


def json_default(value: object) -> str:
    """orjson's fallback for the JSON parameters above: Decimal as its exact text."""
    if isinstance(value, Decimal):
        return str(value)  # numeric's input reads the exact decimal text
    raise TypeError(f"cannot write {type(value).__name__} to the ledger")
