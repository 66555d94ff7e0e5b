"""Typed rules against an oracle: random AND/OR/NOT mixes of number, date, anniversary, boolean
and text rules over values written every way people and APIs write them, evaluated by the SQL
compiler (campaigns/segment_sql.py) and by the plain Python below, which states the documented
meaning; both must select the same contacts. Seeded, so a failure names its draw and repeats.
"""

import datetime as dt
import random
import re
from decimal import Decimal

import pytest

from campaigns.segments import segment_condition, segment_matching_ids
from contacts.models import Contact

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 30, 15, 0, tzinfo=dt.UTC)  # late December: anniversaries wrap
TODAY = NOW.date()
NUMBERS = ["59.90", " 12 ", "-3", "+4.5", ".5", "7.", "1e3", "abc", "", "0", "120", 45,
           12.75, -0.5, True, "1,5", "60"]  # fmt: skip
DATES = ["2026-12-30", "2026-12-31T08:00:00", "2024-02-29", "1990-01-02", "2025-12-25",
         "2026-02-30", "31/12/2025", "", "2026-11-30", "1985-12-31", 20261230,
         "2027-01-03"]  # fmt: skip
BOOLEANS = ["true", "YES", " y ", "1", "on", "false", "No", "0", "off", "maybe", "", True, False]
TEXTS = ["Leeds", "leeds", "LEEDS ", "York", "50% off", "", "Łódź", "new york"]
NUMBER_RE = re.compile(r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)$")


def _text(value) -> str | None:
    """What `->>` reads: None when missing, JSON numbers and booleans as JSON writes them."""
    if value is None:
        return None
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def _number(value) -> Decimal | None:
    text = _text(value)
    if text is None or not NUMBER_RE.match(text.strip()):
        return None
    return Decimal(text.strip())


def _date(value) -> str | None:
    text = _text(value)
    return (
        text[:10] if text is not None and re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}", text) else None
    )


def _rule(rule: dict, attributes: dict) -> bool:
    raw = attributes.get(rule["key"])
    op, value, kind = rule["op"], rule.get("value"), rule["type"]
    text = _text(raw)
    if op == "empty":
        return (text or "").strip() == ""
    if op == "not_empty":
        return (text or "").strip() != ""
    if kind == "number":
        n = _number(raw)
        if op == "between":
            return n is not None and Decimal(str(value[0])) <= n <= Decimal(str(value[1]))
        v = Decimal(str(value))
        found = n is not None and {"eq": n == v, "ne": n == v, "gt": n > v, "gte": n >= v,
                                   "lt": n < v, "lte": n <= v}[op]  # fmt: skip
        return not found if op == "ne" else found
    if kind == "date":
        d = _date(raw)
        if d is None:
            return False
        day = dt.timedelta(days=1)
        if op == "on":
            return d == value
        if op == "before":
            return d < value
        if op == "after":
            return d > value
        if op == "between":
            return value[0] <= d <= value[1]
        if op == "in_last_days":
            return (TODAY - value * day).isoformat() <= d <= TODAY.isoformat()
        if op == "more_than_days_ago":
            return d < (TODAY - value * day).isoformat()
        first = value if op == "anniversary_in_days" else 0
        days = [TODAY + n * day for n in range(first, value + 1)]
        wanted = {x.strftime("%m-%d") for x in days}
        if any((x.month, x.day) == (2, 28) and x.year % 4 for x in days):
            wanted.add("02-29")
        return d[5:] in wanted
    if kind == "boolean":
        words = {"true", "t", "yes", "y", "1", "on"} if op == "is_true" else {
            "false", "f", "no", "n", "0", "off"}  # fmt: skip
        return text is not None and text.strip().lower() in words
    lowered = text.lower() if text is not None else None
    if op in ("in", "not_in"):
        found = lowered is not None and lowered in [v.lower() for v in value]
        return not found if op == "not_in" else found
    if op == "startswith":
        return lowered is not None and lowered.startswith(value.lower())
    if op == "contains":
        return lowered is not None and value.lower() in lowered
    found = lowered is not None and lowered == value.lower()
    return not found if op == "ne" else found


def _group(group: dict, attributes: dict) -> bool:
    results = [_group(r, attributes) if "rules" in r else _rule(r, attributes)
               for r in group["rules"]]  # fmt: skip
    if not results:
        return True
    return any(results) if group["match"] == "any" else all(results)


def _random_rule(rng: random.Random) -> dict:
    kind = rng.choice(["number", "date", "boolean", "text"])
    key = {"number": "n", "date": "d", "boolean": "b", "text": "t"}[kind]
    rule = {"field": "attribute", "key": key, "type": kind}
    if rng.random() < 0.1:
        return {**rule, "op": rng.choice(["empty", "not_empty"])}
    if kind == "number":
        op = rng.choice(["eq", "ne", "gt", "gte", "lt", "lte", "between"])
        low = rng.choice([-3, 0, 4.5, 12, 45, 59.9, 60, 1000])
        value = sorted([low, rng.choice([0, 12, 60, 120, 999])]) if op == "between" else low
        return {**rule, "op": op, "value": value}
    if kind == "date":
        op = rng.choice(["on", "before", "after", "between", "in_last_days",
                         "more_than_days_ago", "anniversary_in_days",
                         "anniversary_within_days"])  # fmt: skip
        pick = rng.choice(["2024-02-29", "2025-12-25", "2026-11-30", "2026-12-30", "1990-01-02"])
        if op == "between":
            other = rng.choice(["2026-01-01", "2026-12-31"])
            return {**rule, "op": op, "value": sorted([pick, other])}
        if "days" in op:
            return {**rule, "op": op, "value": rng.choice([0, 1, 3, 4, 30, 365])}
        return {**rule, "op": op, "value": pick}
    if kind == "boolean":
        return {**rule, "op": rng.choice(["is_true", "is_false"])}
    op = rng.choice(["eq", "ne", "in", "not_in", "startswith", "contains"])
    value = rng.choice(["leeds", "York", "50%", "ł", "new", "%"])
    return {**rule, "op": op, "value": [value, "Łódź"] if op in ("in", "not_in") else value}


def _random_group(rng: random.Random, depth: int = 0) -> dict:
    rules = []
    for _ in range(rng.randint(1, 3)):
        if depth < 2 and rng.random() < 0.3:
            rules.append(_random_group(rng, depth + 1))
        else:
            rules.append(_random_rule(rng))
    return {"match": rng.choice(["all", "any"]), "rules": rules}


@pytest.fixture
def people() -> dict[int, dict]:
    rng = random.Random(26)
    found = {}
    for i in range(60):
        attributes = {}
        for key, pool in (("n", NUMBERS), ("d", DATES), ("b", BOOLEANS), ("t", TEXTS)):
            if rng.random() < 0.85:
                attributes[key] = rng.choice(pool)
        contact = Contact.objects.create(phone=f"+4479460{i:05d}", attributes=attributes)
        contact.refresh_from_db()  # what JSON made of the values (1e3 stays text, 12.75 a float)
        found[contact.pk] = contact.attributes
    return found


@pytest.mark.parametrize("seed", range(20))
def test_typed_rules_select_what_the_oracle_says(people, seed, settings) -> None:
    settings.TIME_ZONE = "UTC"
    rng = random.Random(seed)
    for _ in range(5):
        rules = _random_group(rng)
        expected = {pk for pk, attributes in people.items() if _group(rules, attributes)}
        selected = segment_matching_ids(rules=rules, contact_ids=list(people), now=NOW)
        assert selected == expected, (seed, rules)
        # NOT of a segment is exactly everyone else (exclusion segments rely on it).
        others = Contact.objects.exclude(segment_condition(rules=rules, now=NOW))
        assert set(others.values_list("pk", flat=True)) == set(people) - expected, (seed, rules)
