"""`branch` rules: a segment rule group over the contact, with rules on the entry's event too.

A branch's rule is a segment rule group (campaigns/segment_rules.py: fields, typed attributes,
lists, consent, engagement; AND/OR groups), in which a rule may also read the event that let
the contact in: `{"field": "event", "key": "total", "type": "number", "op": "gt", "value":
50}` (typed like attribute rules; text when the rule has no type). The segment engine
evaluates it: one statement for a whole batch of entries, each with its own event
(campaigns.segments.segment_entries_matching), never one query per contact.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from campaigns.segments import segment_entries_matching, segment_rules_check


def branch_rule_check(rule: Any) -> list[str]:
    """Every problem of a branch rule ([] when it can be evaluated)."""
    if not isinstance(rule, dict) or not isinstance(rule.get("rules"), list):
        return ['a rule group {"match": "all|any", "rules": [...]}']
    return segment_rules_check(rule, allow_event=True)


def branch_matches(
    rule: dict[str, Any], entries: list[tuple[int, int, dict[str, Any]]], *, now: dt.datetime
) -> set[int]:
    """The entry ids among (entry id, contact id, event properties) the rule matches."""
    return segment_entries_matching(rules=rule, entries=entries, now=now)
