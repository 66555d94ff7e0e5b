"""Segment rules: what a rule may say, the checks that refuse the rest, and the rules in words.

A segment is a group of rules and nested groups, as JSON:

    {"match": "all",                       # all = AND, any = OR
     "rules": [
        {"field": "country", "op": "in", "value": ["GB", "IE"]},
        {"field": "attribute", "key": "last_order_value", "type": "number", "op": "gt",
         "value": 50},
        {"field": "attribute", "key": "signed_up", "type": "date", "op": "in_last_days",
         "value": 30},
        {"field": "attribute", "key": "birthday", "type": "date", "op": "anniversary_in_days",
         "value": 7},
        {"field": "list", "op": "in", "value": ["VIP"]},
        {"field": "consent", "channel": "whatsapp"},           # opted in on WhatsApp
        {"field": "engagement", "event": "clicked", "within_days": 30, "channel": "sms"},
        {"field": "engagement", "event": "messaged", "negate": true},   # never messaged
        {"match": "any", "rules": [...]}]}

Every rule has a type, and the type decides its operators: the contact's own text fields
(`first_name`, `last_name`, `language`, `country`, `timezone`, `phone`) are text, `created_at`
(when the contact was added) is a date, an `attribute` rule carries the `type` of its key
(`text` when it has none: rules saved before types existed keep their meaning; services fill
it from the key's declaration when a rule is saved). `event` rules read the properties of the
event a journey is handling (journeys' `branch` step) and are refused anywhere else.

This module is pure (no database): campaigns/segment_sql.py compiles what it accepts, and
campaigns/segments.py is the service layer (lists checked, types filled, counts, samples).
"""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from contacts.attributes import KEY_RE, AttributeType, parse_number

TEXT_FIELDS = {
    "first_name": "first name",
    "last_name": "last name",
    "language": "language",
    "country": "country",
    "timezone": "time zone",
    "phone": "phone",
}
DATE_FIELDS = {"created_at": "added to Herald"}
TEXT_OPS = ("eq", "ne", "in", "not_in", "startswith", "contains", "empty", "not_empty")
NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between", "empty", "not_empty")
RELATIVE_OPS = (
    "in_last_days",
    "in_next_days",
    "more_than_days_ago",
    "anniversary_in_days",
    "anniversary_within_days",
)
DATE_OPS = ("on", "before", "after", "between", *RELATIVE_OPS, "empty", "not_empty")
BOOLEAN_OPS = ("is_true", "is_false", "empty", "not_empty")
OPS: dict[str, tuple[str, ...]] = {
    AttributeType.TEXT: TEXT_OPS,
    AttributeType.NUMBER: NUMBER_OPS,
    AttributeType.DATE: DATE_OPS,
    AttributeType.BOOLEAN: BOOLEAN_OPS,
}
# Engagement events; "messaged" is anything sent or being sent (not skipped or refused).
EVENTS = ("delivered", "clicked", "replied", "messaged")
CONSENT_CHANNELS = ("sms", "whatsapp")
MAX_RULES = 50
MAX_DEPTH = 3
MAX_TEXT = 500
MAX_ITEMS = 500
MAX_DAYS = 36500
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SegmentError(ValueError):
    """Rules that cannot be evaluated (or a segment that cannot be saved so); the message says
    which rule and why, `field` which input it is about (`rules` or `name`)."""

    def __init__(self, message: str, *, field: str = "rules") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a rule: where (indexes from the top group) and why."""

    path: tuple[int, ...]
    message: str

    def __str__(self) -> str:
        where = "".join(f"[{i}]" for i in self.path)
        return f"rules{where}: {self.message}"


def rule_type(rule: dict[str, Any]) -> str:
    """The type a rule compares as (text for a field or key that declares none)."""
    field = rule.get("field")
    if field in DATE_FIELDS:
        return AttributeType.DATE
    if field in ("attribute", "event"):
        return str(rule.get("type") or AttributeType.TEXT)
    return AttributeType.TEXT


def rules_problems(
    rules: Any,
    *,
    known_lists: set[str] | None = None,
    channels: tuple[str, ...] = (),
    consent_channels: tuple[str, ...] = CONSENT_CHANNELS,
    allow_event: bool = False,
) -> list[Problem]:
    """Every problem in `rules` ([] when they can be used).

    `known_lists`: the list names that exist (None: not checked); `channels`: the ledger's
    channels an engagement rule may name; `consent_channels` those a consent rule may name;
    `allow_event`: whether `event` rules may be used.
    """
    problems: list[Problem] = []
    count = [0]
    context = _Context(known_lists, channels, consent_channels, allow_event)
    _check_group(rules, (), 0, problems, count, context)
    if count[0] > MAX_RULES:
        problems.append(Problem((), f"at most {MAX_RULES} rules in a segment"))
    return problems


@dataclass(frozen=True)
class _Context:
    known_lists: set[str] | None
    channels: tuple[str, ...]
    consent_channels: tuple[str, ...]
    allow_event: bool


def _check_group(
    group: Any,
    path: tuple[int, ...],
    depth: int,
    problems: list[Problem],
    count: list[int],  # one cell: the rules seen so far, shared by the recursion
    context: _Context,
) -> None:
    if not isinstance(group, dict) or not isinstance(group.get("rules"), list):
        problems.append(Problem(path, 'a group needs "rules": [...]'))
        return
    if group.get("match", "all") not in ("all", "any"):
        problems.append(Problem(path, '"match" is "all" or "any"'))
    if depth >= MAX_DEPTH:
        problems.append(Problem(path, f"groups nest at most {MAX_DEPTH} deep"))
        return
    for i, rule in enumerate(group["rules"]):
        count[0] += 1
        if isinstance(rule, dict) and "rules" in rule:
            _check_group(rule, (*path, i), depth + 1, problems, count, context)
        elif problem := _check_rule(rule, context):
            problems.append(Problem((*path, i), problem))


def _check_rule(rule: Any, context: _Context) -> str:
    if not isinstance(rule, dict):
        return "a rule is an object"
    if _has_nul(rule):
        return "a value holds a NUL character"
    field = rule.get("field")
    if "negate" in rule and not isinstance(rule["negate"], bool):
        return "negate is true or false"
    if field in TEXT_FIELDS or field in DATE_FIELDS:
        return _check_typed(rule)
    if field in ("attribute", "event"):
        if field == "event" and not context.allow_event:
            return "event rules are for a journey's branch step (they read the event)"
        if not isinstance(rule.get("key"), str) or not KEY_RE.match(rule["key"]):
            return f"an {field} rule needs a snake_case key"
        if rule.get("type", AttributeType.TEXT) not in OPS:
            return f"type is one of {', '.join(OPS)}"
        return _check_typed(rule)
    if field == "list":
        return _check_list(rule, context.known_lists)
    if field == "opted_out":
        return "" if isinstance(rule.get("value"), bool) else "opted_out needs true or false"
    if field == "consent":
        media = context.consent_channels
        return "" if rule.get("channel") in media else f"channel is one of {', '.join(media)}"
    if field == "engagement":
        if rule.get("event") not in EVENTS:
            return f"event is one of {', '.join(EVENTS)}"
        days = rule.get("within_days")
        if days is not None and (not _whole(days) or not 1 <= days <= 3650):
            return "within_days is a whole number of days, 1 to 3650"
        channel = rule.get("channel")
        if channel not in (None, "") and channel not in context.channels:
            return f"channel is one of {', '.join(context.channels)} (or none: any channel)"
        return ""
    return f"unknown field {field!r}"


def _check_typed(rule: dict[str, Any]) -> str:
    """A rule comparing a text, number, date or boolean value: its op and value."""
    kind = rule_type(rule)
    op = rule.get("op", "eq" if kind != AttributeType.DATE else "on")
    if op not in OPS[kind]:
        name = rule.get("key") or rule.get("field")
        return f"{name} is {kind}: op is one of {', '.join(OPS[kind])}"
    value: Any = rule.get("value")
    if op in ("empty", "not_empty", "is_true", "is_false"):
        return ""
    if kind == AttributeType.TEXT:
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value or len(value) > MAX_ITEMS:
                return f"{op} needs a list of 1 to {MAX_ITEMS} texts"
            if not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in value):
                return f"{op} needs a list of texts of at most {MAX_TEXT} characters"
            return ""
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            return f"{op} needs a text value of at most {MAX_TEXT} characters"
        return ""
    if kind == AttributeType.NUMBER:
        values = value if op == "between" else [value]
        if op == "between" and (not isinstance(value, list) or len(value) != 2):
            return "between needs two numbers: [low, high]"
        numbers = [n for v in values if (n := _number(v)) is not None]
        if len(numbers) != len(values):
            return f"{op} needs a number"
        return "" if op != "between" or float(numbers[0]) <= float(numbers[1]) else _LOW_HIGH
    # dates
    if op in RELATIVE_OPS:
        limit = 366 if op.startswith("anniversary") else MAX_DAYS
        if not _whole(value) or not 0 <= value <= limit:
            return f"{op} needs a whole number of days, 0 to {limit}"
        return ""
    values = value if op == "between" else [value]
    if op == "between" and (not isinstance(value, list) or len(value) != 2):
        return "between needs two dates: [from, to]"
    if not all(_date(v) for v in values):
        return f"{op} needs a date as YYYY-MM-DD"
    return "" if op != "between" or values[0] <= values[1] else _LOW_HIGH


_LOW_HIGH = "between needs the lower bound first"


def _check_list(rule: dict[str, Any], known_lists: set[str] | None) -> str:
    names = rule.get("value")
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return "a list rule needs a list name or names"
    if rule.get("op", "in") not in ("in", "not_in"):
        return "a list rule's op is in or not_in"
    if known_lists is not None and (missing := [n for n in names if n not in known_lists]):
        return f"no list named {', '.join(map(repr, missing))}"
    return ""


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return parse_number(repr(value)) if value == value else None  # NaN is not a number
    return parse_number(value) if isinstance(value, str) else None


def _date(value: Any) -> bool:
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _has_nul(value: Any) -> bool:
    """Whether a NUL hides in the rule (PostgreSQL text cannot hold one: refused, not a 500)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def number_value(value: Any) -> str:
    """A checked rule's number as plain digits (a JSON number or a numeric text)."""
    parsed = _number(value)
    if parsed is None:
        raise SegmentError(f"{value!r} is not a number")
    return parsed


def rules_with_types(rules: Any, declared: dict[str, str]) -> Any:
    """A copy of `rules` where attribute rules without a type get their key's declared one.

    Saving pins the type into the rule, so a later change of the declaration does not change
    what a saved segment means.
    """
    if not isinstance(rules, dict) or not isinstance(rules.get("rules"), list):
        return rules
    out = []
    for rule in rules["rules"]:
        if isinstance(rule, dict) and "rules" in rule:
            out.append(rules_with_types(rule, declared))
        elif isinstance(rule, dict) and rule.get("field") == "attribute" and "type" not in rule:
            kind = declared.get(str(rule.get("key")), AttributeType.TEXT)
            out.append({**rule, "type": kind} if kind != AttributeType.TEXT else rule)
        else:
            out.append(rule)
    return {**rules, "rules": out}


def rule_keys(rules: Any) -> set[str]:
    """The attribute keys the rules read."""
    keys: set[str] = set()
    if isinstance(rules, dict) and isinstance(rules.get("rules"), list):
        for rule in rules["rules"]:
            if isinstance(rule, dict) and "rules" in rule:
                keys |= rule_keys(rule)
            elif isinstance(rule, dict) and rule.get("field") == "attribute":
                keys.add(str(rule.get("key")))
    return keys


def list_names(rules: Any) -> set[str]:
    """The list names the rules name."""
    names: set[str] = set()
    if isinstance(rules, dict) and isinstance(rules.get("rules"), list):
        for rule in rules["rules"]:
            if isinstance(rule, dict) and "rules" in rule:
                names |= list_names(rule)
            elif isinstance(rule, dict) and rule.get("field") == "list":
                value = rule.get("value")
                names.update([value] if isinstance(value, str) else value or [])
    return {n for n in names if isinstance(n, str)}


# --- in words -------------------------------------------------------------------------------

_OP_WORDS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "startswith": "starts with",
    "contains": "contains",
    "empty": "is empty",
    "not_empty": "is not empty",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "between": "is between",
    "on": "is on",
    "before": "is before",
    "after": "is after",
    "is_true": "is yes",
    "is_false": "is no",
}
_RELATIVE_WORDS = {
    "in_last_days": "in the last {} days",
    "in_next_days": "in the next {} days",
    "more_than_days_ago": "more than {} days ago",
    "anniversary_in_days": "in {} days (any year)",
    "anniversary_within_days": "within the next {} days (any year)",
}


def rules_summary(rules: Any) -> str:
    """The rules in words, for lists of segments ("country is one of GB, IE and …")."""
    if not isinstance(rules, dict) or not isinstance(rules.get("rules"), list):
        return "no rules"
    joiner = " or " if rules.get("match") == "any" else " and "
    parts = []
    for rule in rules["rules"]:
        if isinstance(rule, dict) and "rules" in rule:
            parts.append(f"({rules_summary(rule)})")
        else:
            parts.append(rule_words(rule))
    return joiner.join(parts) or "everyone"


def rule_words(rule: Any) -> str:
    """One rule in words."""
    if not isinstance(rule, dict):
        return "?"
    field = rule.get("field")
    value = rule.get("value")
    shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value or "")
    if field in TEXT_FIELDS or field in DATE_FIELDS or field in ("attribute", "event"):
        if field == "attribute":
            name = str(rule.get("key", ""))
        elif field == "event":
            name = f"event {rule.get('key', '')}"
        else:
            name = {**TEXT_FIELDS, **DATE_FIELDS}[field]
        op = str(rule.get("op", "eq"))
        if op in _RELATIVE_WORDS:
            if op == "anniversary_in_days" and value == 0:
                return f"{name} is today (any year)"
            return f"{name} {_RELATIVE_WORDS[op].format(value)}"
        words = _OP_WORDS.get(op, op)
        if op in ("empty", "not_empty", "is_true", "is_false"):
            return f"{name} {words}"
        if op == "between" and isinstance(value, list) and len(value) == 2:
            return f"{name} is between {value[0]} and {value[1]}"
        return f"{name} {words} {shown}"
    if field == "list":
        return f"{'not ' if rule.get('op') == 'not_in' else ''}on list {shown}"
    if field == "opted_out":
        return "opted out" if value is True else "not opted out"
    if field == "consent":
        words = f"opted in on {rule.get('channel', '')}"
        return f"not {words}" if rule.get("negate") else words
    if field == "engagement":
        within = f" within {rule['within_days']} days" if rule.get("within_days") else ""
        on = f" on {rule['channel']}" if rule.get("channel") else ""
        words = f"{rule.get('event', '')}{on}{within}"
        return f"not {words}" if rule.get("negate") else words
    return str(field)
