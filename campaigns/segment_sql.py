"""Segment rules → one SQL condition over contacts (PostgreSQL), composed with psycopg.sql.

One compiler serves every use: the named statements below (the live count, the builder's count
and sample, one contact's match for journeys), the ORM (`SegmentCondition`, an expression the
freeze, the preview and the wizard filter contacts with) and other apps' own statements
(`condition`, for journeys' sweeps). Values are `sql.Literal`s, quoted by psycopg, so a
condition is self-contained and composes anywhere.

How rules compile, so that PostgreSQL plans them as a few hash joins over 1M contacts
(bench/HISTORY.md, "Segment counts", has the plans):
- in an AND, a rule over another table is an EXISTS, which PostgreSQL turns into a semi- or
  anti-join (one pass over each table, no per-contact probe);
- an OR of rules over other tables tests one set of ids, `(A UNION B ...)`: under a plain OR,
  PostgreSQL cannot join, and an EXISTS becomes a subplan that is hashed only when its ids fit
  in work_mem and is otherwise probed once per contact, and the cost estimate of that
  alternative switches JIT on (seconds of compiling). UNION, not UNION ALL: its output is known
  to be distinct and its size is estimated from the branches, where a UNION ALL's distinct
  count defaults to 200 and PostgreSQL then probes contacts by index 300,000 times;
- the OR's rules over the contact's own row are read on the row being filtered,
  `(own(c) OR c.id IN (A UNION B))`, when PostgreSQL will hash those ids in the session that
  runs the statement (`hashes_in`: the planner's estimate against its hash memory, asked before
  compiling; an uncorrelated IN is hashed or else scanned whole for every contact, never
  probed). Otherwise the own-row rules are one more branch, `c.id IN (SELECT id FROM contacts
  WHERE own UNION A UNION B)`: a join whatever the sizes, but a scan of every contact even when
  the OR sits in an AND that kept few (1M contacts: 0.96 s of 2 s, bench/HISTORY.md);
- every condition is two-valued (true or false, never NULL: a missing attribute compares
  false), so NOT of a segment is exactly everyone else — exclusion segments rely on it — and
  every id set yields non-NULL ids only (erased contacts' ledger rows have none).

Typed comparisons read the JSON value as text (`->>`), so values stored before a key was
declared compare too when they are in the declared form: a number is digits with an optional
sign and decimal point (the regular expression guards the cast, so a stray "n/a" is simply not a
number), a date starts with `YYYY-MM-DD` and compares as text (ISO dates sort as dates; no cast
can fail), a boolean is one of true/t/yes/y/1/on or false/f/no/n/0/off.

Relative dates count in days in the workspace's time zone (`TIME_ZONE`) as of the evaluation
time; anniversaries (`birthday in 7 days`) ignore the year, and a 29 February falls on the 28th
in other years.
"""

import datetime as dt
import json
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, Expression
from psycopg import sql
from psycopg.types.json import Jsonb

from campaigns.models import Message
from campaigns.segment_rules import (
    DATE_FIELDS,
    TEXT_FIELDS,
    SegmentError,
    number_value,
    rule_type,
)
from contacts.attributes import (
    DATE_PATTERN,
    FALSE_WORDS,
    NUMBER_PATTERN,
    TRUE_WORDS,
    AttributeType,
)
from contacts.models import ConsentEvent, Contact, ListMembership
from infobip.models import Click, InboundMessage

CONTACTS = sql.Identifier(Contact._meta.db_table)
MEMBERSHIPS = sql.Identifier(ListMembership._meta.db_table)
CONSENT_EVENTS = sql.Identifier(ConsentEvent._meta.db_table)
MESSAGES = sql.Identifier(Message._meta.db_table)
CLICKS = sql.Identifier(Click._meta.db_table)
INBOUND = sql.Identifier(InboundMessage._meta.db_table)

_TRUE, _FALSE = sql.SQL("true"), sql.SQL("false")
_NUMBER_RE = sql.Literal(NUMBER_PATTERN)
_DATE_RE = sql.Literal(DATE_PATTERN)
# A message that was (or is being) sent: not skipped, and not refused before it left.
_NOT_SENT = ("skipped", "failed", "rejected")


@dataclass(frozen=True, eq=False)
class Prepared:
    """Checked rules with what the SQL needs looked up: list ids, the time, the event."""

    rules: dict[str, Any]
    now: dt.datetime
    list_ids: dict[str, int] = field(default_factory=dict)
    event: dict[str, Any] | None = None
    # Where event rules read the event from, when it is a column of the statement (a batch of
    # journey entries, each with its own event) rather than one `event` given as a value.
    event_source: sql.Composable | None = None

    @property
    def identity(self) -> tuple[object, ...]:
        return (
            json.dumps(self.rules, sort_keys=True, default=str),
            self.now.isoformat(),
            json.dumps(self.event, sort_keys=True, default=str),
            tuple(sorted(self.list_ids.items())),
            None if self.event_source is None else self.event_source.as_string(None),
        )


# Whether PostgreSQL will hash the ids a standalone statement selects (`c.id IN (...)`).
Hashes = Callable[[sql.Composable], bool]

# PostgreSQL (15: subselect.c, subplan_is_hashable) hashes an `IN (subquery)` that it cannot
# join (under an OR) only when the subquery's estimated rows, each its width plus a tuple
# header (8-byte aligned), fit in hash_mem (work_mem × hash_mem_multiplier); otherwise it
# materializes the ids and scans them for every contact it tests — quadratic. Asked with half
# of that, so statistics that move between the question and the statement change nothing.
_HASH_MEMORY = (
    "SELECT pg_size_bytes(current_setting('work_mem')) "
    "* current_setting('hash_mem_multiplier')::float8"
)
_TUPLE_HEADER = 24
_MARGIN = 2


def hashes_in(connection: Any) -> Hashes:
    """Whether PostgreSQL, in `connection`'s session as it is set now, hashes the ids of a
    statement tested under an OR: its planner's estimate (EXPLAIN, no execution) against the
    session's hash memory, as the planner itself decides."""

    def hashes(ids: sql.Composable) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(_HASH_MEMORY)
            (limit,) = cursor.fetchone()
            cursor.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(ids).as_string(None))
            (plan,) = cursor.fetchone()
        top = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
        row_bytes = -(-int(top["Plan Width"]) // 8) * 8 + _TUPLE_HEADER
        return float(top["Plan Rows"]) * row_bytes * _MARGIN <= float(limit)

    return hashes


def condition(
    prepared: Prepared, contact: sql.Composable, hashes: Hashes | None = None
) -> sql.Composable:
    """The rules as one boolean SQL expression over the contact row aliased `contact`.

    `hashes` (`hashes_in(connection)`) says whether the session that runs the statement will
    hash a set of ids tested under an OR; without it every OR of other tables is one UNION.
    """
    return _Compiler(prepared, hashes).group(prepared.rules, contact)


def condition_joined(
    prepared: Prepared, contact: sql.Composable, hashes: Hashes | None = None
) -> tuple[sql.Composable, sql.Composable]:
    """The rules as (LEFT JOINs, a condition over `contact` and them), for a statement of one's
    own (`FROM contacts AS contact {joins} WHERE {condition}`): an OR mixing the contact's own
    row with other tables that every match must pass (reached from the top through ANDs only)
    reads its own-row rules on the row and LEFT JOINs the other tables' ids."""
    compiler = _Compiler(prepared, hashes)
    compiler.joins = []
    where = compiler.group(prepared.rules, contact, top=True)
    return sql.SQL("").join(compiler.joins), where


class _Compiler:
    def __init__(self, prepared: Prepared, hashes: Hashes | None = None) -> None:
        self.prepared = prepared
        # Ids a statement of their own: not when event rules read a column of the outer
        # statement (a journey's batch), which a nested group's ids may then refer to.
        self.hashes = hashes if prepared.event_source is None else None
        # LEFT JOINs the statement adds (condition_joined), None: a condition alone.
        self.joins: list[sql.Composable] | None = None
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        self.zone = zone
        self.today = prepared.now.astimezone(zone).date()
        self._aliases = 0

    def alias(self) -> sql.Identifier:
        """A fresh contact alias for a subquery over contacts (nested groups in an OR)."""
        self._aliases += 1
        return sql.Identifier(f"sc{self._aliases}")

    # --- groups -----------------------------------------------------------------------------
    def group(self, group: dict[str, Any], c: sql.Composable, top: bool = False) -> sql.Composable:
        """A group of rules; `top`: every match must pass it (reached through ANDs only)."""
        rules = group["rules"]
        if not rules:
            return _TRUE  # an empty group matches everyone, as "no conditions"
        any_of = group.get("match") == "any"
        if any_of and not all(_on_contact(rule) for rule in rules):
            if top and self.joins is not None and any(_on_contact(rule) for rule in rules):
                return self.any_joined(rules, c)
            return self.any_ids(rules, c)
        parts = [self.item(rule, c, top and not any_of) for rule in rules]
        joiner = sql.SQL(" OR ") if any_of else sql.SQL(" AND ")
        return sql.SQL("({})").format(joiner.join(parts)) if len(parts) > 1 else parts[0]

    def item(self, rule: dict[str, Any], c: sql.Composable, top: bool = False) -> sql.Composable:
        return self.group(rule, c, top) if "rules" in rule else self.rule(rule, c)

    def other_ids(self, rules: list[dict[str, Any]]) -> list[sql.Composable]:
        """The ids each of an OR's rules over other tables selects, one statement each."""
        others: list[sql.Composable] = []
        for rule in rules:
            if _on_contact(rule):
                continue
            ids = None if "rules" in rule or rule.get("negate") else self.ids(rule)
            if ids is None:  # a nested group or a negation: the contacts it selects
                inner = self.alias()
                ids = _ids_where(inner, self.item(rule, inner))
            others.append(ids)
        return others

    def any_joined(self, rules: list[dict[str, Any]], c: sql.Composable) -> sql.Composable:
        """An OR of own-row rules and other tables, in a statement of one's own: the other
        tables' ids LEFT JOINed (a hash join whatever their number, beside the rest of the
        statement's joins), the own-row rules read on the row: `own(c) OR sN.id IS NOT NULL`."""
        assert self.joins is not None
        alias = sql.Identifier(f"so{len(self.joins) + 1}")
        # A UNION (with an empty branch when there is one): distinct ids, so the join adds no
        # row, and estimated from the branches (a DISTINCT over a subquery is guessed at 200).
        branches = [*self.other_ids(rules), sql.SQL("SELECT NULL::bigint WHERE false")]
        self.joins.append(
            sql.SQL(" LEFT JOIN ({ids}) AS {a}(id) ON {a}.id = {c}.id").format(
                ids=sql.SQL(" UNION ").join(branches), a=alias, c=c
            )
        )
        own = [self.item(rule, c) for rule in rules if _on_contact(rule)]
        return sql.SQL("({} OR {}.id IS NOT NULL)").format(sql.SQL(" OR ").join(own), alias)

    def any_ids(self, rules: list[dict[str, Any]], c: sql.Composable) -> sql.Composable:
        """An OR that reads other tables: `own(c) OR c.id IN (ids UNION ...)` when PostgreSQL
        will hash the ids, else one `id IN (own ids UNION ids ...)`."""
        others = self.other_ids(rules)
        own = [rule for rule in rules if _on_contact(rule)]
        other_ids = sql.SQL(" UNION ").join(others)
        if own and self.hashes is not None and self.hashes(other_ids):
            # The own-row rules read the row being filtered (after the AND's other rules, when
            # the OR is in one), the other tables' ids are hashed once.
            either = [self.item(rule, c) for rule in own]
            either.append(sql.SQL("{}.id IN ({})").format(c, other_ids))
            return sql.SQL("({})").format(sql.SQL(" OR ").join(either))
        if own:  # the rules over the contact's own row: one branch, one scan of contacts
            inner = self.alias()
            either_own = sql.SQL(" OR ").join(self.item(rule, inner) for rule in own)
            others.insert(0, _ids_where(inner, either_own))
        return sql.SQL("{}.id IN ({})").format(c, sql.SQL(" UNION ").join(others))

    def ids(self, rule: dict[str, Any]) -> sql.Composable | None:
        """The contact ids a rule over another table selects (None: needs the contact row)."""
        field_name = rule["field"]
        if field_name == "list":
            if rule.get("op") == "not_in":
                return None
            return sql.SQL(
                "SELECT m.contact_id FROM {} m WHERE m.contact_list_id = ANY({})"
            ).format(MEMBERSHIPS, sql.Literal(self.list_ids(rule)))
        if field_name != "engagement":
            return None  # consent needs the contact's opted_out too: a branch over contacts
        event, where = self.engagement(rule)
        if event == "clicked":
            # Each click's contact by one primary-key probe of its message: as a join,
            # PostgreSQL prefers a seq scan of the whole ledger to 6,000 probes (0.55 s of
            # 0.83 s at 1M). OFFSET 0 keeps the inner select a subquery: pulled up, its probe
            # was written twice, in the filter and the output (two probes per click).
            return sql.SQL(
                "SELECT x.contact_id FROM (SELECT (SELECT m.contact_id FROM {messages} m "
                "WHERE m.id = k.message_id{channel}) AS contact_id FROM {clicks} k "
                "WHERE {where} OFFSET 0) x WHERE x.contact_id IS NOT NULL"
            ).format(
                messages=MESSAGES, clicks=CLICKS, where=where, channel=self.click_channel(rule)
            )
        table, alias = (MESSAGES, "m") if event in ("delivered", "messaged") else (INBOUND, "i")
        return sql.SQL(
            "SELECT {a}.contact_id FROM {t} {a} WHERE {w} AND {a}.contact_id IS NOT NULL"
        ).format(a=sql.Identifier(alias), t=table, w=where)

    # --- rules ------------------------------------------------------------------------------
    def rule(self, rule: dict[str, Any], c: sql.Composable) -> sql.Composable:
        field_name = rule["field"]
        if field_name in TEXT_FIELDS:
            return self.contact_text(rule, c)
        if field_name in DATE_FIELDS:
            return self.dates(
                rule,
                _TimestampColumn(sql.SQL("{}.{}").format(c, sql.Identifier(field_name)), self.zone),
            )
        if field_name in ("attribute", "event"):
            source: sql.Composable
            if field_name == "attribute":
                source = sql.SQL("{}.attributes").format(c)
            elif self.prepared.event_source is not None:
                source = self.prepared.event_source
            elif self.prepared.event is None:
                raise SegmentError("event rules need the event (a journey's branch step)")
            else:
                source = sql.Literal(Jsonb(self.prepared.event))
            value = sql.SQL("({} ->> {})").format(source, sql.Literal(rule["key"]))
            return self.typed(rule, value)
        if field_name == "list":
            exists = sql.SQL(
                "EXISTS (SELECT 1 FROM {} m WHERE m.contact_id = {}.id "
                "AND m.contact_list_id = ANY({}))"
            ).format(MEMBERSHIPS, c, sql.Literal(self.list_ids(rule)))
            return _not(exists) if rule.get("op") == "not_in" else exists
        if field_name == "opted_out":
            return sql.SQL("{}.opted_out = {}").format(c, _TRUE if rule["value"] else _FALSE)
        if field_name == "consent":
            # Opted in on the channel (or on every channel) and not opted out since.
            opted_in = sql.SQL(
                "(EXISTS (SELECT 1 FROM {} e WHERE e.contact_id = {c}.id AND e.action = 'opt_in' "
                "AND e.channel = ANY({})) AND NOT {c}.opted_out)"
            ).format(CONSENT_EVENTS, sql.Literal([rule["channel"], "all"]), c=c)
            return _not(opted_in) if rule.get("negate") else opted_in
        event, where = self.engagement(rule)
        if event == "clicked":
            found = sql.SQL(
                "EXISTS (SELECT 1 FROM {} k JOIN {} m ON m.id = k.message_id "
                "WHERE m.contact_id = {}.id AND {}{})"
            ).format(CLICKS, MESSAGES, c, where, self.click_channel(rule))
        else:
            table, alias = (MESSAGES, "m") if event in ("delivered", "messaged") else (INBOUND, "i")
            found = sql.SQL(
                "EXISTS (SELECT 1 FROM {t} {a} WHERE {a}.contact_id = {c}.id AND {w})"
            ).format(t=table, a=sql.Identifier(alias), c=c, w=where)
        return _not(found) if rule.get("negate") else found

    def list_ids(self, rule: dict[str, Any]) -> list[int]:
        """The ids of the rule's lists, looked up first so PostgreSQL plans with their sizes."""
        names = rule["value"] if isinstance(rule["value"], list) else [rule["value"]]
        try:
            return sorted({self.prepared.list_ids[name] for name in names})
        except KeyError as missing:
            raise SegmentError(f"no list named {missing.args[0]!r}") from None

    def engagement(self, rule: dict[str, Any]) -> tuple[str, sql.Composable]:
        """(event, the WHERE of the rows that make an engagement rule true, any contact)."""
        event = rule["event"]
        since = (
            self.prepared.now - dt.timedelta(days=rule["within_days"])
            if rule.get("within_days")
            else None
        )
        channel = rule.get("channel") or None
        where: list[sql.Composable] = []
        if event in ("delivered", "messaged"):
            # Originals only (a failover attempt is not another contact): for delivered, by the
            # window of message_original_created (created_at, contact), the state read from the
            # row: no index names the state (the ledger's updates stay HOT).
            where.append(sql.SQL("m.replaces_id IS NULL"))
            if event == "delivered":
                where.append(sql.SQL("m.state = 'delivered'"))
            else:
                where.append(sql.SQL("m.state <> ALL({})").format(sql.Literal(list(_NOT_SENT))))
            if since is not None:
                where.append(sql.SQL("m.created_at >= {}").format(sql.Literal(since)))
            if channel:
                where.append(sql.SQL("m.channel = {}").format(sql.Literal(channel)))
        elif event == "clicked":
            where.append(
                sql.SQL("k.clicked_at >= {}").format(sql.Literal(since)) if since else _TRUE
            )
        else:  # replied
            where.append(
                sql.SQL("i.received_at >= {}").format(sql.Literal(since)) if since else _TRUE
            )
            if channel:
                where.append(sql.SQL("i.channel = {}").format(sql.Literal(channel)))
        return event, sql.SQL(" AND ").join(where)

    @staticmethod
    def click_channel(rule: dict[str, Any]) -> sql.Composable:
        channel = rule.get("channel") or None
        return (
            sql.SQL(" AND m.channel = {}").format(sql.Literal(channel)) if channel else sql.SQL("")
        )

    # --- typed values -----------------------------------------------------------------------
    def contact_text(self, rule: dict[str, Any], c: sql.Composable) -> sql.Composable:
        """A text rule on one of the contact's own columns (NOT NULL: no COALESCE needed)."""
        column = sql.SQL("{}.{}").format(c, sql.Identifier(rule["field"]))
        op: str = rule.get("op", "eq")
        value: Any = rule.get("value")
        if rule["field"] == "country" and op in ("eq", "ne", "in", "not_in"):
            # Stored upper-case (ISO 3166): compared as stored, so the country index serves it.
            values = [v.upper() for v in (value if isinstance(value, list) else [value])]
            match = sql.SQL("{} = ANY({})").format(column, sql.Literal(values))
            return _not(match) if op in ("ne", "not_in") else match
        if op == "empty":
            return sql.SQL("{} = ''").format(column)
        if op == "not_empty":
            return sql.SQL("{} <> ''").format(column)
        return _text(sql.SQL("lower({})").format(column), op, value)

    def typed(self, rule: dict[str, Any], raw: sql.Composable) -> sql.Composable:
        """A rule on a JSON value read as text (`raw` may be NULL: every result is COALESCEd)."""
        kind, op = rule_type(rule), rule.get("op")
        if op == "empty":
            return sql.SQL("coalesce(btrim({}), '') = ''").format(raw)
        if op == "not_empty":
            return sql.SQL("coalesce(btrim({}), '') <> ''").format(raw)
        if kind == AttributeType.NUMBER:
            return self.numbers(rule, raw)
        if kind == AttributeType.DATE:
            return self.dates(rule, _TextDate(raw))
        if kind == AttributeType.BOOLEAN:
            words = sorted(TRUE_WORDS if op == "is_true" else FALSE_WORDS)
            return _true(sql.SQL("lower(btrim({})) = ANY({})").format(raw, sql.Literal(words)))
        return _text(sql.SQL("lower({})").format(raw), op or "eq", rule.get("value"))

    def numbers(self, rule: dict[str, Any], raw: sql.Composable) -> sql.Composable:
        number = sql.SQL("(CASE WHEN btrim({r}) ~ {re} THEN btrim({r})::numeric END)").format(
            r=raw, re=_NUMBER_RE
        )
        op: str = rule.get("op", "eq")
        value: Any = rule.get("value")
        if op == "between":
            low, high = (Decimal(number_value(v)) for v in value)
            return _true(
                sql.SQL("{} BETWEEN {} AND {}").format(number, sql.Literal(low), sql.Literal(high))
            )
        operator = {"eq": "=", "ne": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        match = _true(
            sql.SQL("{} {} {}").format(
                number, sql.SQL(operator), sql.Literal(Decimal(number_value(value)))
            )
        )
        return _not(match) if op == "ne" else match

    def dates(self, rule: dict[str, Any], dates: "_Dates") -> sql.Composable:
        op: str = rule.get("op", "on")
        value: Any = rule.get("value")
        today = self.today
        day = dt.timedelta(days=1)
        if op == "on":
            return dates.between(_iso(value), _iso(value))
        if op == "before":
            return dates.between(None, _iso(value) - day)
        if op == "after":
            return dates.between(_iso(value) + day, None)
        if op == "between":
            return dates.between(_iso(value[0]), _iso(value[1]))
        if op == "in_last_days":
            return dates.between(today - value * day, today)
        if op == "in_next_days":
            return dates.between(today, today + value * day)
        if op == "more_than_days_ago":
            return dates.between(None, today - (value + 1) * day)
        first = value if op == "anniversary_in_days" else 0
        days = [today + n * day for n in range(first, value + 1)]
        return dates.month_day_in(sorted(set(_month_days(days))))


class _Dates:
    """Where dates come from: a JSON text (attributes, events) or a timestamp column."""

    def between(self, low: dt.date | None, high: dt.date | None) -> sql.Composable:
        raise NotImplementedError

    def month_day_in(self, month_days: list[str]) -> sql.Composable:
        raise NotImplementedError


class _TextDate(_Dates):
    """An ISO date in a JSON value, compared as text: no cast, so no value can fail it."""

    def __init__(self, raw: sql.Composable) -> None:
        self.date = sql.SQL("(CASE WHEN {r} ~ {re} THEN left({r}, 10) END)").format(
            r=raw, re=_DATE_RE
        )

    def between(self, low: dt.date | None, high: dt.date | None) -> sql.Composable:
        bounds = []
        if low is not None:
            bounds.append(sql.SQL("{} >= {}").format(self.date, sql.Literal(low.isoformat())))
        if high is not None:
            bounds.append(sql.SQL("{} <= {}").format(self.date, sql.Literal(high.isoformat())))
        return _true(sql.SQL(" AND ").join(bounds))

    def month_day_in(self, month_days: list[str]) -> sql.Composable:
        return _true(sql.SQL("substr({}, 6) = ANY({})").format(self.date, sql.Literal(month_days)))


class _TimestampColumn(_Dates):
    """A timestamp column (NOT NULL), compared by the instants that bound local days."""

    def __init__(self, column: sql.Composable, zone: zoneinfo.ZoneInfo) -> None:
        self.column, self.zone = column, zone

    def start(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=self.zone)

    def between(self, low: dt.date | None, high: dt.date | None) -> sql.Composable:
        bounds = []
        if low is not None:
            bounds.append(sql.SQL("{} >= {}").format(self.column, sql.Literal(self.start(low))))
        if high is not None:
            end = self.start(high + dt.timedelta(days=1))
            bounds.append(sql.SQL("{} < {}").format(self.column, sql.Literal(end)))
        return sql.SQL("({})").format(sql.SQL(" AND ").join(bounds)) if bounds else _TRUE

    def month_day_in(self, month_days: list[str]) -> sql.Composable:
        local = sql.SQL("to_char({} AT TIME ZONE {}, 'MM-DD')").format(
            self.column, sql.Literal(self.zone.key)
        )
        return sql.SQL("{} = ANY({})").format(local, sql.Literal(month_days))


def _month_days(days: list[dt.date]) -> Iterator[str]:
    """MM-DD of each day; 28 February of a year without a 29th also stands for the 29th."""
    for day in days:
        yield day.strftime("%m-%d")
        if (day.month, day.day) == (2, 28) and not _leap(day.year):
            yield "02-29"


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _iso(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _text(lowered: sql.Composable, op: str, value: Any) -> sql.Composable:
    """A case-insensitive text comparison of `lowered` (lower() of a value that may be NULL)."""
    match: sql.Composable
    if op in ("in", "not_in"):
        match = sql.SQL("{} = ANY({})").format(lowered, sql.Literal([v.lower() for v in value]))
    elif op == "startswith":
        match = sql.SQL("starts_with({}, {})").format(lowered, sql.Literal(value.lower()))
    elif op == "contains":
        match = sql.SQL("strpos({}, {}) > 0").format(lowered, sql.Literal(value.lower()))
    else:  # eq, ne
        match = sql.SQL("{} = {}").format(lowered, sql.Literal(value.lower()))
    match = _true(match)
    return _not(match) if op in ("ne", "not_in") else match


def _true(expression: sql.Composable) -> sql.Composable:
    """True only when `expression` is (NULL — a missing value — counts as false)."""
    return sql.SQL("coalesce({}, false)").format(expression)


def _not(expression: sql.Composable) -> sql.Composable:
    return sql.SQL("NOT {}").format(expression)


def _ids_where(alias: sql.Identifier, where: sql.Composable) -> sql.Composable:
    return sql.SQL("SELECT {a}.id FROM {t} {a} WHERE {w}").format(a=alias, t=CONTACTS, w=where)


def _on_contact(rule: dict[str, Any]) -> bool:
    """Whether the rule reads only the contact's own row (no other table)."""
    if "rules" in rule:
        return all(_on_contact(child) for child in rule["rules"])
    field_name = rule["field"]
    return (
        field_name in TEXT_FIELDS
        or field_name in DATE_FIELDS
        or field_name in ("attribute", "event", "opted_out")
    )


class SegmentCondition(Expression):
    """The rules as a boolean ORM expression: `Contact.objects.filter(SegmentCondition(p))`.

    It renders `condition()` over whatever alias the query gives contacts (the table's name, or
    `U0` inside a subquery), so it also works in `exclude()` and `id__in=` subqueries.
    """

    conditional = True
    output_field = BooleanField()

    def __init__(self, prepared: Prepared) -> None:
        super().__init__()
        self.prepared = prepared

    @property
    def identity(self) -> tuple[object, ...]:
        return (type(self), self.prepared.identity)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[str | int, ...]]:
        table = compiler.quote_name_unless_alias(compiler.query.get_initial_alias())
        text = condition(self.prepared, sql.SQL(table), hashes_in(connection)).as_string(None)
        # Django hands the statement to psycopg with its parameters, so a literal `%` (in a
        # value) is written `%%` here, as psycopg reads it back.
        return text.replace("%", "%%"), ()

    def get_group_by_cols(self) -> list[Any]:
        return []
