"""Segments: saved rules over contacts, their lists, consent and engagement, with AND/OR.

A segment's rules are JSON, a group of rules and nested groups:

    {"match": "all",                       # all = AND, any = OR
     "rules": [
        {"field": "country", "op": "in", "value": ["GB", "IE"]},
        {"field": "attribute", "key": "city", "op": "eq", "value": "Leeds"},
        {"field": "list", "op": "in", "value": ["VIP"]},
        {"field": "consent", "channel": "whatsapp"},          # opted in on WhatsApp
        {"field": "engagement", "event": "clicked", "within_days": 30},
        {"field": "engagement", "event": "messaged", "negate": true},   # never messaged
        {"match": "any", "rules": [...]}]}

They compile to one SQL WHERE clause over contacts (EXISTS subqueries over the ledger's
(contact, created_at) index, clicks, inbound messages and consent events), so a count or a
freeze is one query however large the audience. The freeze evaluates them once, as of the
launch time, so a resumed freeze selects the same people; the ledger is then the record.
"""

import datetime as dt
import re
from typing import Any

from django.db import connections, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from campaigns.models import Message, Segment
from channels.registry import mediums
from contacts.models import ConsentAction, ConsentEvent, Contact, ContactList, ListMembership

TEXT_FIELDS = ("first_name", "last_name", "language", "country", "timezone", "phone")
TEXT_OPS = ("eq", "ne", "in", "not_in", "startswith", "empty", "not_empty")
EVENTS = ("delivered", "clicked", "replied", "messaged")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_RULES = 50
_MAX_DEPTH = 3


class SegmentError(ValueError):
    """Rules that cannot be evaluated; the message says which rule and why."""


def segment_rules_check(rules: Any) -> list[str]:
    """Every problem in `rules`, as sentences ([] when they can be used)."""
    problems: list[str] = []
    count = [0]
    _check_group(rules, "rules", 0, problems, count)
    if count[0] > _MAX_RULES:
        problems.append(f"at most {_MAX_RULES} rules in a segment")
    return problems


def _check_group(group: Any, where: str, depth: int, problems: list[str], count: list) -> None:
    if not isinstance(group, dict) or not isinstance(group.get("rules"), list):
        problems.append(f'{where}: a group needs "rules": [...]')
        return
    if group.get("match", "all") not in ("all", "any"):
        problems.append(f'{where}: "match" is "all" or "any"')
    if depth >= _MAX_DEPTH:
        problems.append(f"{where}: groups nest at most {_MAX_DEPTH} deep")
        return
    for i, rule in enumerate(group["rules"]):
        here = f"{where}[{i}]"
        count[0] += 1
        if isinstance(rule, dict) and "rules" in rule:
            _check_group(rule, here, depth + 1, problems, count)
        elif problem := _check_rule(rule):
            problems.append(f"{here}: {problem}")


def _check_rule(rule: Any) -> str:
    if not isinstance(rule, dict):
        return "a rule is an object"
    field = rule.get("field")
    if field in TEXT_FIELDS or field == "attribute":
        if field == "attribute" and not _KEY.match(str(rule.get("key", ""))):
            return "an attribute rule needs a snake_case key"
        op = rule.get("op", "eq")
        if op not in TEXT_OPS:
            return f"op is one of {', '.join(TEXT_OPS)}"
        value = rule.get("value")
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return f"{op} needs a list of texts"
        elif op not in ("empty", "not_empty") and not isinstance(value, str):
            return f"{op} needs a text value"
        return ""
    if field == "list":
        names = rule.get("value")
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not names:
            return "a list rule needs a list name or names"
        if rule.get("op", "in") not in ("in", "not_in"):
            return "a list rule's op is in or not_in"
        known = set(ContactList.objects.filter(name__in=names).values_list("name", flat=True))
        if missing := [n for n in names if n not in known]:
            return f"no list named {', '.join(map(repr, missing))}"
        return ""
    if field == "opted_out":
        return "" if isinstance(rule.get("value"), bool) else "opted_out needs true or false"
    if field == "consent":
        media = mediums()  # the channel registry's mediums: sms, whatsapp, viber, rcs…
        return "" if rule.get("channel") in media else f"channel is one of {', '.join(media)}"
    if field == "engagement":
        if rule.get("event") not in EVENTS:
            return f"event is one of {', '.join(EVENTS)}"
        days = rule.get("within_days")
        if days is not None and (not isinstance(days, int) or not 1 <= days <= 3650):
            return "within_days is a whole number of days, 1 to 3650"
        return ""
    return f"unknown field {field!r}"


def segment_q(rules: dict, *, now: dt.datetime) -> Q:
    """The rules as one Q over Contact (raise SegmentError when they are not valid)."""
    if problems := segment_rules_check(rules):
        raise SegmentError("; ".join(problems))
    return _group_q(rules, now)


# How the rules compile, so that PostgreSQL plans them as a few hash joins over 1M contacts
# (bench/HISTORY.md, "Segment counts", has the plans):
# - in an AND, a rule over another table is an EXISTS, which PostgreSQL turns into a semi- or
#   anti-join (one pass over each table, no per-contact probe);
# - an OR of rules over other tables is one `id IN (A UNION B ...)`: under a plain OR,
#   PostgreSQL cannot join, and an EXISTS becomes a subplan that is hashed only when its ids fit
#   in work_mem and is otherwise probed once per contact (587,041 index probes in the bench),
#   and the cost estimate of that alternative switches JIT on (seconds of compiling). UNION, not
#   UNION ALL: its output is known to be distinct and its size is estimated from the branches,
#   where a UNION ALL's distinct count defaults to 200 and PostgreSQL then probes contacts by
#   index 300,000 times. Every branch yields only non-NULL ids, so the set also works under
#   NOT (`exclude(segment_q(...))` in campaigns/audience.py).
def _group_q(group: dict, now: dt.datetime) -> Q:
    rules = group["rules"]
    if not rules:
        return Q()  # an empty group matches everyone, as "no conditions"
    if group.get("match") == "any" and not all(_on_contact(rule) for rule in rules):
        return _any_ids_q(rules, now)
    parts = [_group_q(rule, now) if "rules" in rule else _rule_q(rule, now) for rule in rules]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined | part if group.get("match") == "any" else combined & part
    return combined


def _on_contact(rule: dict) -> bool:
    """Whether the rule reads only the contact's own row (no other table)."""
    if "rules" in rule:
        return all(_on_contact(child) for child in rule["rules"])
    return rule["field"] in TEXT_FIELDS or rule["field"] in ("attribute", "opted_out")


def _any_ids_q(rules: list[dict], now: dt.datetime) -> Q:
    """An OR that reads other tables, as one `id IN (ids UNION ids ...)`."""
    on_contact = [rule for rule in rules if _on_contact(rule)]
    branches: list[QuerySet[Any]] = []
    if on_contact:  # the rules over the contact's own row: one branch, one scan
        own = Q()
        for rule in on_contact:
            own |= _group_q(rule, now) if "rules" in rule else _rule_q(rule, now)
        branches.append(Contact.objects.filter(own).order_by().values("id"))
    for rule in rules:
        if _on_contact(rule):
            continue
        ids = None if "rules" in rule or rule.get("negate") else _contact_ids(rule, now)
        if ids is None:  # a nested group or a negation: the contacts it selects
            q = _group_q(rule, now) if "rules" in rule else _rule_q(rule, now)
            ids = Contact.objects.filter(q).order_by().values("id")
        branches.append(ids)
    if len(branches) == 1:
        return Q(id__in=branches[0])
    return Q(id__in=branches[0].union(*branches[1:]))


def _contact_ids(rule: dict, now: dt.datetime) -> QuerySet[Any] | None:
    """The ids of the contacts a rule over another table selects (None when it is a negation)."""
    field = rule["field"]
    if field == "list":
        if rule.get("op") == "not_in":
            return None
        members = ListMembership.objects.filter(contact_list_id__in=_list_ids(rule))
        return members.order_by().values("contact_id")
    if field == "consent":
        return None  # needs the contact's opted_out too: a branch over contacts
    rows = _engagement_rows(rule, now, outer=None)
    if rule["event"] == "clicked":
        # Each click's contact by one primary-key probe of its message: as a join, PostgreSQL
        # prefers a seq scan of the whole ledger to 6,000 probes (0.55 s of 0.83 s at 1M).
        contact = Message.objects.filter(pk=OuterRef("message_id")).values("contact_id")[:1]
        rows = rows.annotate(clicker=Subquery(contact))
        return rows.filter(clicker__isnull=False).order_by().values("clicker")
    return rows.filter(contact_id__isnull=False).order_by().values("contact_id")


def _list_ids(rule: dict) -> list[int]:
    """The ids of the rule's lists, looked up first so PostgreSQL plans with their sizes."""
    names = rule["value"] if isinstance(rule["value"], list) else [rule["value"]]
    return list(ContactList.objects.filter(name__in=names).values_list("id", flat=True))


def _text_q(column: str, op: str, value: Any) -> Q:
    if op == "eq":
        return Q(**{f"{column}__iexact": value})
    if op == "ne":
        return ~Q(**{f"{column}__iexact": value})
    if op == "in":
        return Q(**{f"{column}__in": value})
    if op == "not_in":
        return ~Q(**{f"{column}__in": value})
    if op == "startswith":
        return Q(**{f"{column}__istartswith": value})
    empty = Q(**{f"{column}__isnull": True}) | Q(**{column: ""})
    return empty if op == "empty" else ~empty


def _rule_q(rule: dict, now: dt.datetime) -> Q:
    field = rule["field"]
    if field in TEXT_FIELDS:
        return _text_q(field, rule.get("op", "eq"), rule.get("value"))
    if field == "attribute":
        return _text_q(f"attributes__{rule['key']}", rule.get("op", "eq"), rule.get("value"))
    if field == "list":
        member = Exists(
            ListMembership.objects.filter(
                contact_id=OuterRef("pk"), contact_list_id__in=_list_ids(rule)
            )
        )
        return ~Q(member) if rule.get("op") == "not_in" else Q(member)
    if field == "opted_out":
        return Q(opted_out=rule["value"])
    if field == "consent":
        # Opted in on the channel (or on every channel) and not opted out since.
        opted_in = ConsentEvent.objects.filter(
            contact_id=OuterRef("pk"),
            action=ConsentAction.OPT_IN,
            channel__in=[rule["channel"], "all"],
        )
        return Q(Exists(opted_in)) & Q(opted_out=False)
    found = Q(Exists(_engagement_rows(rule, now, outer=OuterRef("pk"))))
    return ~found if rule.get("negate") else found


def _engagement_rows(rule: dict, now: dt.datetime, *, outer: OuterRef | None) -> QuerySet[Any]:
    """The ledger, click or reply rows that make the rule true (of the `outer` contact if set)."""
    since = now - dt.timedelta(days=rule["within_days"]) if rule.get("within_days") else None
    event = rule["event"]
    of = {} if outer is None else {"contact_id": outer}
    if event in ("delivered", "messaged"):
        messages = Message.objects.filter(replaces__isnull=True, **of)
        if event == "delivered":
            # By the window of message_original_created (created_at, contact), the state read
            # from the row: no index names the state (the ledger's updates stay HOT).
            messages = messages.filter(state="delivered")
        else:  # messaged: anything that was (or is being) sent, not skipped or refused
            messages = messages.exclude(state__in=["skipped", "failed", "rejected"])
        if since is not None:
            messages = messages.filter(created_at__gte=since)
        return messages
    if event == "clicked":
        from infobip.models import Click

        clicks = Click.objects.filter(**({} if outer is None else {"message__contact_id": outer}))
        if since is not None:
            clicks = clicks.filter(clicked_at__gte=since)
        return clicks
    from infobip.models import InboundMessage  # replied

    replies = InboundMessage.objects.filter(**of)
    if since is not None:
        replies = replies.filter(received_at__gte=since)
    return replies


def segment_contacts(*, segment: Segment, now: dt.datetime | None = None) -> QuerySet[Contact]:
    """The segment's contacts as of `now` (one query when evaluated)."""
    return Contact.objects.filter(segment_q(segment.rules, now=now or timezone.now()))


# A count is one large read-only statement: its plan costs can pass jit_above_cost (JIT then
# compiles for longer than the scan runs), and an OR's UNION of contact ids (300k at 1M
# contacts) spills to disk at the default work_mem of 4 MB. Both only for this statement.
_COUNT_SETTINGS = "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"


def segment_count(
    *,
    segment: Segment | None = None,
    rules: dict | None = None,
    now: dt.datetime | None = None,
) -> int:
    """How many contacts the segment (or unsaved `rules`, for a live count) selects as of `now`."""
    rules = segment.rules if segment is not None else rules
    contacts = Contact.objects.filter(segment_q(rules or {}, now=now or timezone.now()))
    connection = connections[contacts.db]
    # SET LOCAL (set_config's `true`) ends with the transaction; inside a caller's transaction
    # a released savepoint would keep it, so the block rolls back (the count wrote nothing) and
    # the connection keeps the server's settings for whatever runs next.
    with transaction.atomic(using=contacts.db):
        with connection.cursor() as cursor:
            cursor.execute(_COUNT_SETTINGS)
        count = contacts.count()
        transaction.set_rollback(True, using=contacts.db)
    return count


def segment_save(
    *, name: str, rules: dict, description: str = "", segment: Segment | None = None
) -> Segment:
    """Create or update a segment; refuses (SegmentError) rules that cannot be evaluated."""
    if not name.strip():
        raise SegmentError("the segment needs a name")
    if problems := segment_rules_check(rules):
        raise SegmentError("; ".join(problems))
    segment = segment or Segment()
    segment.name, segment.rules, segment.description = name.strip(), rules, description
    segment.save()
    return segment


_OP_WORDS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "startswith": "starts with",
    "empty": "is empty",
    "not_empty": "is not empty",
}


def segment_rules_summary(rules: Any) -> str:
    """The rules in words, for lists of segments ("country is one of GB, IE and …")."""
    if not isinstance(rules, dict) or not isinstance(rules.get("rules"), list):
        return "no rules"
    joiner = " or " if rules.get("match") == "any" else " and "
    parts = []
    for rule in rules["rules"]:
        if isinstance(rule, dict) and "rules" in rule:
            parts.append(f"({segment_rules_summary(rule)})")
        else:
            parts.append(_rule_words(rule))
    return joiner.join(parts) or "everyone"


def _rule_words(rule: Any) -> str:
    if not isinstance(rule, dict):
        return "?"
    field = rule.get("field")
    value = rule.get("value")
    shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value or "")
    if field in TEXT_FIELDS or field == "attribute":
        name = f"attribute {rule.get('key', '')}" if field == "attribute" else str(field)
        op = str(rule.get("op", "eq"))
        words = _OP_WORDS.get(op, op)
        return f"{name} {words}" if op in ("empty", "not_empty") else f"{name} {words} {shown}"
    if field == "list":
        return f"{'not ' if rule.get('op') == 'not_in' else ''}on list {shown}"
    if field == "opted_out":
        return "opted out" if value is True else "not opted out"
    if field == "consent":
        return f"opted in on {rule.get('channel', '')}"
    if field == "engagement":
        within = f" within {rule['within_days']} days" if rule.get("within_days") else ""
        words = f"{rule.get('event', '')}{within}"
        return f"not {words}" if rule.get("negate") else words
    return str(field)
