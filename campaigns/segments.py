"""Segments: saved rules over contacts — services to check, save, count, sample and match them.

What a rule may say is in campaigns/segment_rules.py, how it becomes SQL in
campaigns/segment_sql.py. The entry points other apps use:

- `segment_condition(rules=, now=)`: an ORM expression (`Contact.objects.filter(...)`), what
  the freeze, the preview and the wizard select with; `segment_where(rules=, contact=, now=)`:
  the same condition as a `psycopg.sql` expression for a statement of one's own;
- `segment_count`, `segment_preview` (count and a sample, the builder's live count);
- `segment_matches(rules=, contact_id=, event=)`: does one contact (and the event a journey is
  handling) match — the same SQL, restricted to that contact; `segment_matching_ids` for many.

A campaign's segment is evaluated as of its launch time, once, at freeze; the ledger is then the
record of who was in it.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from psycopg import sql
from psycopg.types.json import Jsonb

from campaigns.models import Campaign, Segment
from campaigns.segment_rules import (
    TEXT_OPS,
    Problem,
    SegmentError,
    list_names,
    rule_keys,
    rules_problems,
    rules_summary,
    rules_with_types,
)
from campaigns.segment_sql import (
    CONTACTS,
    Prepared,
    SegmentCondition,
    condition,
    condition_joined,
    hashes_in,
)
from channels.registry import mediums
from contacts.models import AttributeDefinition, Contact, ContactList
from core.rules import actor_require
from core.services import audit_record

__all__ = ["TEXT_OPS", "SegmentError", "segment_rules_summary"]

segment_rules_summary = rules_summary
SAMPLE_SIZE = 10


def engagement_channels() -> tuple[str, ...]:
    """The ledger's channels (the registry's mediums: sms, whatsapp, viber, rcs…), which an
    engagement or consent rule may name ("delivered on sms", "opted in on whatsapp")."""
    return tuple(mediums())


def segment_rules_problems(rules: Any, *, allow_event: bool = False) -> list[Problem]:
    """Every problem in `rules`, each with the path of its rule ([] when they can be used)."""
    names = list_names(rules)
    known = set(ContactList.objects.filter(name__in=names).values_list("name", flat=True))
    channels = engagement_channels()
    return rules_problems(
        rules,
        known_lists=known,
        channels=channels,
        consent_channels=channels,
        allow_event=allow_event,
    )


def segment_rules_check(rules: Any, *, allow_event: bool = False) -> list[str]:
    """Every problem in `rules`, as sentences ([] when they can be used)."""
    return [str(problem) for problem in segment_rules_problems(rules, allow_event=allow_event)]


def segment_rules_normalize(rules: Any) -> Any:
    """`rules` with each attribute rule's type filled in from its key's declaration."""
    declared = dict(
        AttributeDefinition.objects.filter(key__in=rule_keys(rules)).values_list("key", "type")
    )
    return rules_with_types(rules, declared)


def _prepare(
    rules: Any,
    now: dt.datetime | None,
    event: dict[str, Any] | None,
    event_source: sql.Composable | None = None,
) -> Prepared:
    """Checked rules with their lists' ids; raises SegmentError naming every problem."""
    with_event = event is not None or event_source is not None
    if problems := segment_rules_check(rules, allow_event=with_event):
        raise SegmentError("; ".join(problems))
    names = list_names(rules)
    list_ids = dict(ContactList.objects.filter(name__in=names).values_list("name", "id"))
    return Prepared(
        rules=rules,
        now=now or timezone.now(),
        list_ids=list_ids,
        event=event,
        event_source=event_source,
    )


def segment_condition(
    *, rules: Any, now: dt.datetime | None = None, event: dict[str, Any] | None = None
) -> SegmentCondition:
    """The rules as an ORM expression over Contact (raise SegmentError when not valid)."""
    return SegmentCondition(_prepare(rules, now, event))


def segment_where(
    *,
    rules: Any,
    contact: sql.Composable,
    now: dt.datetime | None = None,
    event: dict[str, Any] | None = None,
) -> sql.Composable:
    """The rules as a `psycopg.sql` boolean expression over the contact row aliased `contact`."""
    return condition(_prepare(rules, now, event), contact)


def segment_q(rules: Any, *, now: dt.datetime) -> Q:
    """The rules as one Q over Contact (raise SegmentError when they are not valid)."""
    return Q(segment_condition(rules=rules, now=now))


def segment_contacts(*, segment: Segment, now: dt.datetime | None = None) -> QuerySet[Contact]:
    """The segment's contacts as of `now` (one query when evaluated)."""
    return Contact.objects.filter(segment_condition(rules=segment.rules, now=now))


# A count reads large tables once: its plan's costs can pass jit_above_cost (JIT then compiles
# for longer than the scan runs), and an OR's UNION of contact ids (300k at 1M contacts)
# spills to disk at the default work_mem of 4 MB. Both set for the statement's transaction
# only (set_config(..., true) is SET LOCAL).
_SETTINGS = sql.SQL("SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)")
# The live count: how many contacts match.
SEGMENT_COUNT = sql.SQL("SELECT count(*) FROM {contacts} AS c{joins} WHERE {condition}")
# The builder's count and sample in one reading of the tables: the matching ids once, their
# number and the newest few.
SEGMENT_PREVIEW = sql.SQL(
    "WITH matched AS MATERIALIZED (SELECT c.id FROM {contacts} AS c{joins} WHERE {condition}) "
    "SELECT (SELECT count(*) FROM matched) AS total, "
    "ARRAY(SELECT id FROM matched ORDER BY id DESC LIMIT {limit}) AS sample_ids"
)
# Which of some contacts match (a journey's branch step, for the contacts due at once).
SEGMENT_MATCHING = sql.SQL(
    "SELECT c.id FROM {contacts} AS c WHERE c.id = ANY({ids}) AND {condition}"
)
# Which of some (entry, contact, event) rows match, each with its own event's properties (a
# journey's branch step over a batch of entries): the batch is one JSON parameter.
SEGMENT_ENTRIES = sql.SQL(
    "SELECT e.entry FROM jsonb_to_recordset({entries}) AS e(entry bigint, contact bigint, "
    "event jsonb) JOIN {contacts} AS c ON c.id = e.contact WHERE {condition}"
)


@dataclass(frozen=True)
class _PreviewRow:
    total: int
    sample_ids: list[int]


@dataclass(frozen=True)
class SegmentPreview:
    """How many contacts match, and the newest of them."""

    count: int
    sample: list[Contact]


def _read(prepared: Prepared, statement: sql.SQL, row_type: type, **values: Any) -> Any:
    """Run one statement over the rules (`{condition}` in it) with the count settings, in a
    block rolled back (it wrote nothing), so neither the caller's transaction nor the pooled
    connection keeps the settings. The rules compile under those settings (whether an OR's
    ids are hashed depends on the work_mem the statement runs with), with their LEFT JOINs
    (`condition_joined`: an OR of own-row rules and other tables that every match passes)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_SETTINGS.as_string(None))
            joins, where = condition_joined(prepared, sql.Identifier("c"), hashes_in(connection))
            text = statement.format(joins=joins, condition=where, **values).as_string(None)
            cursor.execute(text)
            row = row_type(*cursor.fetchone())
        transaction.set_rollback(True)
    return row


@dataclass(frozen=True)
class _Count:
    count: int


def segment_count(
    *,
    segment: Segment | None = None,
    rules: Any = None,
    now: dt.datetime | None = None,
) -> int:
    """How many contacts the segment (or unsaved `rules`, for a live count) selects as of `now`."""
    rules = segment.rules if segment is not None else rules
    prepared = _prepare(rules or {"rules": []}, now, None)
    count: int = _read(prepared, SEGMENT_COUNT, _Count, contacts=CONTACTS).count
    return count


def segment_preview(
    *, rules: Any, now: dt.datetime | None = None, limit: int = SAMPLE_SIZE
) -> SegmentPreview:
    """The count and the newest `limit` matching contacts (the builder's live figures)."""
    prepared = _prepare(rules, now, None)
    row = _read(prepared, SEGMENT_PREVIEW, _PreviewRow, contacts=CONTACTS, limit=sql.Literal(limit))
    by_id = Contact.objects.in_bulk(row.sample_ids)
    return SegmentPreview(row.total, [by_id[i] for i in row.sample_ids if i in by_id])


def segment_matching_ids(
    *,
    rules: Any,
    contact_ids: Iterable[int],
    event: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> set[int]:
    """Which of `contact_ids` the rules select (with `event`'s properties for event rules)."""
    ids = sorted(set(contact_ids))
    if not ids:
        return set()
    statement = SEGMENT_MATCHING.format(
        contacts=CONTACTS,
        ids=sql.Literal(ids),
        condition=condition(
            _prepare(rules, now, event), sql.Identifier("c"), hashes_in(connection)
        ),
    )
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(None))
        return {row[0] for row in cursor.fetchall()}


def segment_entries_matching(
    *,
    rules: Any,
    entries: Iterable[tuple[int, int, dict[str, Any] | None]],
    now: dt.datetime | None = None,
) -> set[int]:
    """The entry ids among (entry id, contact id, event properties) whose contact and event
    match the rules; one statement for the batch, event rules typed like attribute rules."""
    rows = [
        {"entry": e, "contact": c, "event": p if isinstance(p, dict) else {}} for e, c, p in entries
    ]
    if not rows:
        return set()
    prepared = _prepare(rules, now, None, event_source=sql.SQL("e.event"))
    statement = SEGMENT_ENTRIES.format(
        entries=sql.Literal(Jsonb(rows)),
        contacts=CONTACTS,
        condition=condition(prepared, sql.Identifier("c")),
    )
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(None))
        return {row[0] for row in cursor.fetchall()}


def segment_matches(
    *,
    rules: Any,
    contact_id: int,
    event: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Whether one contact (and the event a journey is handling) matches the rules."""
    return contact_id in segment_matching_ids(
        rules=rules, contact_ids=[contact_id], event=event, now=now
    )


def segment_save(
    *,
    name: str,
    rules: Any,
    description: str = "",
    segment: Segment | None = None,
    actor: Any = None,
) -> Segment:
    """Create or update a segment; refuses (SegmentError) rules that cannot be evaluated.

    Attribute rules get their key's declared type, pinned in the saved rules. With an `actor`
    (the UI, the API, a command run `--as`) the permission is checked and the change audited.
    """
    if actor is not None:
        perm = "campaigns.change_segment" if segment and segment.pk else "campaigns.add_segment"
        actor_require(actor, perm, doing="save segments")
    name = name.strip()
    if not name:
        raise SegmentError("the segment needs a name", field="name")
    if len(name) > 200:
        raise SegmentError(f"the name is {len(name)} characters; at most 200", field="name")
    taken = Segment.objects.filter(name=name)
    if segment is not None and segment.pk is not None:
        taken = taken.exclude(pk=segment.pk)
    if taken.exists():
        raise SegmentError(f"a segment called “{name}” already exists", field="name")
    rules = segment_rules_normalize(rules)
    if problems := segment_rules_check(rules):
        raise SegmentError("; ".join(problems))
    segment = segment or Segment()
    created = segment.pk is None
    segment.name, segment.rules, segment.description = name, rules, description.strip()
    segment.save()
    if actor is not None:
        audit_record(
            actor=actor,
            action="segment-create" if created else "segment-update",
            detail=f"{segment.name}: {rules_summary(rules)}"[:500],
        )
    return segment


def segment_delete(*, segment: Segment, actor: Any = None) -> str:
    """Delete a segment; refused while a campaign uses it (campaigns keep who they targeted)."""
    if actor is not None:
        actor_require(actor, "campaigns.delete_segment", doing="delete segments")
    using = Campaign.objects.filter(Q(segment=segment) | Q(exclude_segment=segment))
    if names := sorted(set(using.values_list("name", flat=True)))[:5]:
        shown = ", ".join(f"“{n}”" for n in names)
        raise SegmentError(f"the segment is used by campaigns: {shown}")
    name = segment.name
    segment.delete()
    if actor is not None:
        audit_record(actor=actor, action="segment-delete", detail=name)
    return name
