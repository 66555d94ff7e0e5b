"""The segment builder's form: rules JSON ↔ flat form fields, and what each row offers.

The builder is one HTML form. Each item of the rule tree is named by its path (`0`, `1`,
`1.0` …): `i-1-kind` (rule or group), for a group `i-1-match`, for a rule `i-1.0-field`,
`i-1.0-op`, `i-1.0-value` (and `value2` for between, `ndays` for the relative dates, `lists`,
`event`, `channel`, `days`, `key`, `type` where the field needs them). A typed row carries
every input its type can use; the stylesheet shows the ones its operator needs, so changing
the operator asks nothing of the server and loses nothing typed.

Parsing gives the rules as the services take them (nothing is checked here:
campaigns.segments says what is wrong, by path, and the builder shows it next to the row);
rendering turns rules back into rows. Nothing here writes.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from campaigns.segment_rules import DATE_FIELDS, EVENTS, OPS, TEXT_FIELDS, Problem, rule_type
from contacts.attributes import AttributeType, parse_number

MAX_ITEMS = 30  # rows a builder shows (the rules allow 50 in all)
_NAME = re.compile(r"^i-(\d{1,3}(?:\.\d{1,3}){0,2})-([a-z0-9]+)$")

FIELD_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "phone": "Phone number",
    "country": "Country",
    "language": "Language",
    "timezone": "Time zone",
    "created_at": "Added to Herald",
}
OP_LABELS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "startswith": "starts with",
    "contains": "contains",
    "empty": "is empty",
    "not_empty": "is not empty",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "between": "is between",
    "on": "is on",
    "before": "is before",
    "after": "is after",
    "in_last_days": "is in the last … days",
    "in_next_days": "is in the next … days",
    "more_than_days_ago": "is more than … days ago",
    "anniversary_in_days": "comes round again (any year) in … days",
    "anniversary_within_days": "comes round again (any year) within … days",
    "is_true": "is yes",
    "is_false": "is no",
}
NUMBER_OP_LABELS = {"eq": "is", "ne": "is not"}
EVENT_LABELS = {
    "delivered": "got a message delivered",
    "clicked": "clicked a link",
    "replied": "replied",
    "messaged": "was sent a message",
}
DAY_OPS = frozenset(
    {
        "in_last_days",
        "in_next_days",
        "more_than_days_ago",
        "anniversary_in_days",
        "anniversary_within_days",
    }
)
NO_VALUE_OPS = frozenset({"empty", "not_empty", "is_true", "is_false"})


@dataclass
class Choices:
    """What the builder can offer: attribute keys with their types, lists, channels."""

    attributes: dict[str, str]  # key → type (declared, else text)
    lists: list[str]
    channels: list[tuple[str, str]]
    consent_channels: list[tuple[str, str]]


@dataclass
class Row:
    """One item of the tree as the template draws it."""

    path: str
    depth: int
    kind: str  # rule | group
    match: str = "all"
    choice: str = ""  # the field select's value: first_name … | attr:KEY | attr | list | …
    type: str = AttributeType.TEXT
    op: str = ""
    ops: list[tuple[str, str]] = field(default_factory=list)
    widget: str = ""  # text | number | date | lists | engagement | consent | none
    value: str = ""
    value2: str = ""
    ndays: str = ""
    lists: list[str] = field(default_factory=list)
    event: str = "delivered"
    channel: str = ""
    days: str = ""
    key: str = ""
    problem: str = ""
    children: list["Row"] = field(default_factory=list)

    @property
    def slug(self) -> str:
        """The path as an HTML id part (a dot would read as a class in a CSS selector)."""
        return self.path.replace(".", "-")


# --- form → rules ---------------------------------------------------------------------------


def rules_from_form(post: Any, choices: Choices) -> dict[str, Any]:
    """The rules the form describes (as typed: the services check them)."""
    items: dict[str, dict[str, Any]] = {}
    for name in post:
        if match := _NAME.match(name):
            path, part = match.groups()
            values = post.getlist(name) if hasattr(post, "getlist") else [post[name]]
            items.setdefault(path, {})[part] = values if part == "lists" else values[-1]
    top: dict[str, Any] = {"match": "any" if post.get("match") == "any" else "all", "rules": []}
    # Nodes by their path in the form: an item goes into the group at its parent's path (an
    # item whose parent is missing or is a rule is dropped).
    nodes: dict[tuple[int, ...], dict[str, Any]] = {(): top}
    for path in sorted(items, key=_key)[: MAX_ITEMS * 2]:
        steps = _key(path)
        parent = nodes.get(steps[:-1])
        if parent is None or "rules" not in parent:
            continue
        data = items[path]
        if data.get("kind") == "group":
            node: dict[str, Any] = {
                "match": "any" if data.get("match") == "any" else "all",
                "rules": [],
            }
        else:
            node = _rule(data, choices)
        parent["rules"].append(node)
        nodes[steps] = node
    return top


def _key(path: str) -> tuple[int, ...]:
    return tuple(int(p) for p in path.split(".")) if path else ()


def _rule(data: dict[str, Any], choices: Choices) -> dict[str, Any]:
    choice = str(data.get("field", ""))
    op = str(data.get("op", ""))
    if choice in TEXT_FIELDS or choice in DATE_FIELDS:
        rule: dict[str, Any] = {"field": choice, "op": op}
        kind = rule_type(rule)
        return {**rule, **_value(kind, op, data)}
    if choice.startswith("attr"):
        key = choice[5:] if choice.startswith("attr:") else str(data.get("key", "")).strip()
        kind = choices.attributes.get(key) or str(data.get("type") or AttributeType.TEXT)
        rule = {"field": "attribute", "key": key, "type": kind, "op": op}
        return {**rule, **_value(kind, op, data)}
    if choice == "list":
        return {
            "field": "list",
            "op": "not_in" if op == "not_in" else "in",
            "value": [n for n in data.get("lists", []) if n],
        }
    if choice == "engagement":
        rule = {
            "field": "engagement",
            "event": str(data.get("event", "")),
            "negate": op == "did_not",
        }
        if days := str(data.get("days", "")).strip():
            rule["within_days"] = int(days) if days.isascii() and days.isdigit() else days
        if channel := str(data.get("channel", "")):
            rule["channel"] = channel
        return rule
    if choice == "consent":
        return {
            "field": "consent",
            "channel": str(data.get("channel", "")),
            "negate": op == "has_not",
        }
    if choice == "opted_out":
        return {"field": "opted_out", "value": op == "true"}
    return {"field": choice}


def _value(kind: str, op: str, data: dict[str, Any]) -> dict[str, Any]:
    """The value of a typed rule from its inputs (numbers and days as numbers when they are)."""
    if op in NO_VALUE_OPS:
        return {}
    value, value2 = str(data.get("value", "")).strip(), str(data.get("value2", "")).strip()
    if kind == AttributeType.TEXT:
        if op in ("in", "not_in"):
            return {"value": [v.strip() for v in value.split(",") if v.strip()]}
        return {"value": value}
    if op in DAY_OPS:
        days = str(data.get("ndays", value)).strip()
        return {"value": int(days) if days.isascii() and days.isdigit() else days}
    if kind == AttributeType.NUMBER:
        if op == "between":
            return {"value": [_number(value), _number(value2)]}
        return {"value": _number(value)}
    if op == "between":
        return {"value": [value, value2]}
    return {"value": value}


def _number(text: str) -> Any:
    parsed = parse_number(text)
    if parsed is None:
        return text
    return int(parsed) if "." not in parsed else float(parsed)


_PATH = re.compile(r"^\d{1,3}(?:\.\d{1,3}){0,2}$")


def apply_action(rules: dict[str, Any], action: str) -> dict[str, Any]:
    """A structural change from a builder button: add-rule[:PATH], add-group, remove:PATH."""
    verb, _, path = action.partition(":")
    if path and not _PATH.match(path):
        return rules  # not a path the builder wrote: nothing to change
    if verb == "add-group":
        rules["rules"].append({"match": "any", "rules": [{"field": ""}, {"field": ""}]})
    elif verb == "add-rule":
        group = _at(rules, path) if path else rules
        if group is not None and "rules" in group:
            group["rules"].append({"field": ""})
    elif verb == "remove" and path:
        steps = _key(path)
        parent = _at(rules, ".".join(map(str, steps[:-1]))) if len(steps) > 1 else rules
        if parent is not None and steps[-1] < len(parent.get("rules", [])):
            del parent["rules"][steps[-1]]
    return rules


def _at(rules: dict[str, Any], path: str) -> dict[str, Any] | None:
    node: dict[str, Any] = rules
    for step in _key(path):
        children = node.get("rules", [])
        if step >= len(children):
            return None
        node = children[step]
    return node


# --- rules → rows ---------------------------------------------------------------------------


def rows_from_rules(rules: dict[str, Any], choices: Choices, problems: dict[str, str]) -> list[Row]:
    """The rows the template draws for `rules`, with each row's problem (by path)."""
    return _rows(rules.get("rules", []), "", 0, choices, problems)


def _rows(
    items: list[Any], prefix: str, depth: int, choices: Choices, problems: dict[str, str]
) -> list[Row]:
    rows = []
    for index, item in enumerate(items[:MAX_ITEMS]):
        path = f"{prefix}{index}"
        if isinstance(item, dict) and "rules" in item:
            row = Row(
                path, depth, "group", match=item.get("match", "all"), problem=problems.get(path, "")
            )
            row.children = _rows(item["rules"], f"{path}.", depth + 1, choices, problems)
        else:
            row = _rule_row(item if isinstance(item, dict) else {}, path, depth, choices)
            row.problem = problems.get(path, "")
        rows.append(row)
    return rows


def _rule_row(rule: dict[str, Any], path: str, depth: int, choices: Choices) -> Row:
    name = rule.get("field", "")
    row = Row(path, depth, "rule")
    if name in TEXT_FIELDS or name in DATE_FIELDS or name == "attribute":
        kind = rule_type(rule)
        key = str(rule.get("key", ""))
        if name == "attribute":
            row.choice = f"attr:{key}" if key in choices.attributes else "attr"
            row.key = key
        else:
            row.choice = name
        row.type = kind
        labels = {**OP_LABELS, **(NUMBER_OP_LABELS if kind == AttributeType.NUMBER else {})}
        row.ops = [(op, labels[op]) for op in OPS[kind]]
        row.op = rule.get("op") or row.ops[0][0]
        row.widget = _widget(kind)
        value = rule.get("value")
        if row.op in DAY_OPS:
            row.ndays = "" if value is None else str(value)
        elif isinstance(value, list):
            if row.op == "between" and len(value) == 2:
                row.value, row.value2 = str(value[0]), str(value[1])
            else:
                row.value = ", ".join(map(str, value))
        elif value is not None:
            row.value = str(value)
        return row
    row.choice = name if name in ("list", "engagement", "consent", "opted_out") else ""
    if name == "list":
        row.ops = [("in", "is on"), ("not_in", "is not on")]
        row.op = "not_in" if rule.get("op") == "not_in" else "in"
        value = rule.get("value")
        row.lists = [value] if isinstance(value, str) else list(value or [])
        row.widget = "lists"
    elif name == "engagement":
        row.ops = [("did", "did"), ("did_not", "did not")]
        row.op = "did_not" if rule.get("negate") else "did"
        row.event = str(rule.get("event") or "delivered")
        row.channel = str(rule.get("channel") or "")
        row.days = str(rule.get("within_days") or "")
        row.widget = "engagement"
    elif name == "consent":
        row.ops = [("has", "has opted in on"), ("has_not", "has not opted in on")]
        row.op = "has_not" if rule.get("negate") else "has"
        row.channel = str(rule.get("channel") or "sms")
        row.widget = "consent"
    elif name == "opted_out":
        row.ops = [("false", "is subscribed"), ("true", "has opted out")]
        row.op = "true" if rule.get("value") is True else "false"
        row.widget = "none"
    return row


_WIDGETS: dict[str, str] = {"text": "text", "number": "number", "date": "date", "boolean": "none"}


def _widget(kind: str) -> str:
    """The inputs a typed row carries (by its type; its operator picks what shows)."""
    return _WIDGETS.get(kind, "text")


def field_options(choices: Choices) -> list[tuple[str, list[tuple[str, str]]]]:
    """The field select's option groups: (group label, [(value, label)])."""
    attributes = [
        (f"attr:{key}", key if kind == AttributeType.TEXT else f"{key} ({kind})")
        for key, kind in sorted(choices.attributes.items())
    ]
    return [
        ("Contact", list(FIELD_LABELS.items())),
        ("Attributes", [*attributes, ("attr", "Another attribute…")]),
        (
            "Lists and consent",
            [
                ("list", "List membership"),
                ("consent", "Consent (opt-in)"),
                ("opted_out", "Subscription"),
            ],
        ),
        ("What they did", [("engagement", "Engagement")]),
    ]


def event_options() -> list[tuple[str, str]]:
    return [(event, EVENT_LABELS[event]) for event in EVENTS]


def problems_by_path(problems: list[Problem]) -> dict[str, str]:
    """campaigns.segment_rules.Problem list → {"1.0": "message"} (the first per row)."""
    found: dict[str, str] = {}
    for problem in problems:
        path = ".".join(map(str, problem.path))
        found.setdefault(path, _friendly(problem.message))
    return found


def _friendly(message: str) -> str:
    """The checker's words, for a marketer looking at the row."""
    if message.startswith("unknown field ''") or message == "unknown field None":
        return "Choose what this rule looks at."
    if message.startswith("a group needs"):
        return "Add a rule to this group."
    return message[0].upper() + message[1:] + "."
