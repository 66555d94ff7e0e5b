"""`branch` rules: a segment rule group over the contact, with rules on the entry's event too.

A branch's rule is a segment rule group (campaigns/segments.py: fields, attributes, lists,
consent, engagement; AND/OR groups), in which a rule may also read the event that let the
contact in: `{"field": "event", "key": "item", "op": "eq", "value": "red shoes"}` (ops as for
text fields). Evaluated for a whole batch: each contact rule is one query over the batch's
contacts (the segment engine's SQL, never one query per contact), each event rule a test of the
entry's stored properties; the groups are then combined per entry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from campaigns.segments import TEXT_OPS, segment_q, segment_rules_check
from contacts.models import Contact

EVENT_FIELD = "event"


def branch_rule_check(rule: Any) -> list[str]:
    """Every problem of a branch rule ([] when it can be evaluated)."""
    if not isinstance(rule, dict) or not isinstance(rule.get("rules"), list):
        return ['a rule group {"match": "all|any", "rules": [...]}']
    problems: list[str] = []
    contact_part = _without_event_rules(rule, problems, "rule")
    if contact_part is not None:
        problems += segment_rules_check(contact_part)
    return problems


def _without_event_rules(group: dict, problems: list[str], where: str) -> dict | None:
    """The group with event rules replaced by an always-true placeholder, for checking."""
    rules = []
    for i, rule in enumerate(group.get("rules", [])):
        if isinstance(rule, dict) and rule.get("field") == EVENT_FIELD:
            if problem := _event_rule_problem(rule):
                problems.append(f"{where}[{i}]: {problem}")
            continue
        if isinstance(rule, dict) and "rules" in rule:
            inner = _without_event_rules(rule, problems, f"{where}[{i}]")
            if inner is not None and inner["rules"]:
                rules.append(inner)
            continue
        rules.append(rule)
    return {"match": group.get("match", "all"), "rules": rules}


def _event_rule_problem(rule: dict) -> str:
    if not isinstance(rule.get("key"), str) or not rule["key"]:
        return "an event rule needs the property's key"
    op = rule.get("op", "eq")
    if op not in TEXT_OPS:
        return f"op is one of {', '.join(TEXT_OPS)}"
    value = rule.get("value")
    if op in ("in", "not_in") and not isinstance(value, list):
        return f"{op} needs a list of values"
    return ""


def _event_matches(rule: dict, properties: dict) -> bool:
    raw = properties.get(rule["key"]) if isinstance(properties, dict) else None
    have = "" if raw is None else str(raw).strip().casefold()
    op, value = rule.get("op", "eq"), rule.get("value")
    if op == "empty":
        return not have
    if op == "not_empty":
        return bool(have)
    if op in ("in", "not_in"):
        inside = have in {str(v).strip().casefold() for v in value or []}
        return inside if op == "in" else not inside
    want = str(value if value is not None else "").strip().casefold()
    if op == "eq":
        return have == want
    if op == "ne":
        return have != want
    return have.startswith(want)  # startswith


def branch_matches(
    rule: dict, entries: list[tuple[int, int, dict]], *, now: dt.datetime
) -> set[int]:
    """The entry ids among (entry id, contact id, event properties) the rule matches."""
    contact_ids = sorted({contact for _, contact, _ in entries})
    leaves: dict[int, set[int]] = {}

    def leaf_set(leaf: dict) -> set[int]:
        key = id(leaf)
        if key not in leaves:
            group = {"match": "all", "rules": [leaf]}
            leaves[key] = set(
                Contact.objects.filter(id__in=contact_ids)
                .filter(segment_q(group, now=now))
                .values_list("id", flat=True)
            )
        return leaves[key]

    def matches(group: dict, contact: int, properties: dict) -> bool:
        results = []
        for item in group.get("rules", []):
            if isinstance(item, dict) and "rules" in item:
                results.append(matches(item, contact, properties))
            elif isinstance(item, dict) and item.get("field") == EVENT_FIELD:
                results.append(_event_matches(item, properties))
            else:
                results.append(contact in leaf_set(item))
        if not results:
            return True
        return any(results) if group.get("match") == "any" else all(results)

    return {entry for entry, contact, props in entries if matches(rule, contact, props)}
