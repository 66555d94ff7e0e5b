"""Typed segment rules: numbers compare as numbers, dates as dates, anniversaries ignore the year.

Every rule here runs as SQL on PostgreSQL (campaigns/segment_sql.py) against contacts whose
values are typed, written as people write them, or not there at all; the expected sets are
worked out by hand. A fixed "now" (09:00 UTC on 7 December 2026, TIME_ZONE UTC) keeps relative
dates exact.
"""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.segments import (
    SegmentError,
    segment_condition,
    segment_count,
    segment_entries_matching,
    segment_matches,
    segment_preview,
    segment_rules_check,
    segment_save,
)
from contacts.models import AttributeDefinition, Contact
from infobip.models import Click, InboundMessage

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _utc(settings) -> None:
    settings.TIME_ZONE = "UTC"


def _c(phone: str, **attributes) -> Contact:
    return Contact.objects.create(phone=phone, country="GB", attributes=attributes)


@pytest.fixture
def people() -> dict[str, Contact]:
    return {
        # last_order_value: typed digits, a JSON number, a stray text, missing
        "ann": _c("+447946000001", last_order_value="59.90", signed_up="2026-11-20",
                  birthday="1990-12-10", vip="true", city="Leeds"),
        "bob": _c("+447946000002", last_order_value="120", signed_up="2025-01-02",
                  birthday="1985-12-07", vip="no", city="York"),
        "cat": _c("+447946000003", last_order_value=45, signed_up="2026-12-07T08:30:00",
                  birthday="2000-01-02", vip=True),
        "dan": _c("+447946000004", last_order_value="n/a", signed_up="03/01/2024",
                  birthday="1996-02-29"),
        "eve": _c("+447946000005", city="50% off"),
    }  # fmt: skip


def _names(rules: dict, people: dict[str, Contact], now: dt.datetime = NOW) -> set[str]:
    ids = set(
        Contact.objects.filter(segment_condition(rules=rules, now=now)).values_list("id", flat=True)
    )
    return {name for name, contact in people.items() if contact.pk in ids}


def _attr(key: str, kind: str, op: str, value=None) -> dict:
    rule = {"field": "attribute", "key": key, "type": kind, "op": op}
    return {"match": "all", "rules": [rule if value is None else {**rule, "value": value}]}


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("gt", 50, {"ann", "bob"}),  # 120 > 50 as a number ("120" < "50" as text)
        ("gte", "59.9", {"ann", "bob"}),
        ("lt", 100, {"ann", "cat"}),
        ("lte", 45, {"cat"}),
        ("eq", 120, {"bob"}),
        ("ne", 120, {"ann", "cat", "dan", "eve"}),  # "is not" includes the unknown
        ("between", [45, 60], {"ann", "cat"}),
        ("empty", None, {"eve"}),
        ("not_empty", None, {"ann", "bob", "cat", "dan"}),
    ],
)
def test_numbers_compare_as_numbers(people, op, value, expected) -> None:
    assert _names(_attr("last_order_value", "number", op, value), people) == expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("in_last_days", 30, {"ann", "cat"}),  # 20 Nov and today; not 2025, not "03/01/2024"
        ("more_than_days_ago", 30, {"bob"}),
        ("on", "2026-12-07", {"cat"}),  # an ISO date-time is its date
        ("before", "2026-11-21", {"ann", "bob"}),
        ("after", "2026-11-20", {"cat"}),
        ("between", ["2025-01-01", "2026-11-20"], {"ann", "bob"}),
        ("in_next_days", 10, {"cat"}),  # today is in "the next 10 days"
    ],
)
def test_dates_compare_as_dates_and_relative_to_now(people, op, value, expected) -> None:
    assert _names(_attr("signed_up", "date", op, value), people) == expected


def test_birthdays_ignore_the_year_and_wrap_round_new_year(people) -> None:
    birthday = "birthday"
    assert _names(_attr(birthday, "date", "anniversary_in_days", 3), people) == {"ann"}
    assert _names(_attr(birthday, "date", "anniversary_in_days", 0), people) == {"bob"}
    assert _names(_attr(birthday, "date", "anniversary_within_days", 3), people) == {"ann", "bob"}
    # From 28 December, "within 7 days" reaches 2 January of the next year.
    late = dt.datetime(2026, 12, 28, 12, 0, tzinfo=dt.UTC)
    rules = _attr(birthday, "date", "anniversary_within_days", 7)
    assert _names(rules, people, now=late) == {"cat"}
    # 29 February birthdays are on the 28th when the year has no 29th (2027), not in 2028.
    on_28_feb_2027 = dt.datetime(2027, 2, 28, 12, 0, tzinfo=dt.UTC)
    today = _attr(birthday, "date", "anniversary_in_days", 0)
    assert _names(today, people, now=on_28_feb_2027) == {"dan"}
    on_28_feb_2028 = dt.datetime(2028, 2, 28, 12, 0, tzinfo=dt.UTC)
    assert _names(today, people, now=on_28_feb_2028) == set()
    assert _names(_attr(birthday, "date", "anniversary_in_days", 1), people,
                  now=on_28_feb_2028) == {"dan"}  # fmt: skip


def test_relative_dates_count_days_in_the_workspace_time_zone(people, settings) -> None:
    # 00:30 on 8 December in Auckland is still 7 December in UTC: "today" is the 8th there.
    settings.TIME_ZONE = "Pacific/Auckland"
    now = dt.datetime(2026, 12, 7, 11, 30, tzinfo=dt.UTC)
    assert _names(_attr("birthday", "date", "anniversary_in_days", 2), people, now=now) == {"ann"}


@pytest.mark.parametrize(
    ("op", "expected"),
    [("is_true", {"ann", "cat"}), ("is_false", {"bob"}), ("empty", {"dan", "eve"})],
)
def test_booleans_read_yes_no_true_false_and_json(people, op, expected) -> None:
    assert _names(_attr("vip", "boolean", op), people) == expected


def test_text_rules_and_percent_signs_in_values(people) -> None:
    assert _names(_attr("city", "text", "eq", "LEEDS"), people) == {"ann"}
    assert _names(_attr("city", "text", "contains", "% off"), people) == {"eve"}
    assert _names(_attr("city", "text", "startswith", "50%"), people) == {"eve"}
    assert _names(_attr("city", "text", "ne", "leeds"), people) == {"bob", "cat", "dan", "eve"}
    assert segment_count(rules=_attr("city", "text", "contains", "%"), now=NOW) == 1


def test_a_rule_saved_without_a_type_gets_the_declared_one_pinned(people) -> None:
    AttributeDefinition.objects.create(key="last_order_value", type="number")
    rules = {"rules": [{"field": "attribute", "key": "last_order_value", "op": "gt",
                        "value": 50}]}  # fmt: skip
    segment = segment_save(name="big spenders", rules=rules)
    assert segment.rules["rules"][0]["type"] == "number"
    # Re-declaring the key later does not change what the saved segment means.
    AttributeDefinition.objects.filter(key="last_order_value").update(type="text")
    assert segment_count(segment=segment, now=NOW) == 2


def test_untyped_rules_saved_before_types_keep_comparing_as_text(people) -> None:
    rules = {"rules": [{"field": "attribute", "key": "city", "op": "eq", "value": "york"}]}
    assert _names(rules, people) == {"bob"}
    # "gt" on a key that is text is refused with the reason, not evaluated as text.
    problems = segment_rules_check(
        {"rules": [{"field": "attribute", "key": "city", "op": "gt", "value": "a"}]}
    )
    assert problems == [
        "rules[0]: city is text: op is one of eq, ne, in, not_in, startswith, contains, "
        "empty, not_empty"
    ]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"type": "number", "op": "gt", "value": "fifty"}, "gt needs a number"),
        ({"type": "number", "op": "between", "value": [9, 1]}, "lower bound first"),
        ({"type": "date", "op": "on", "value": "2026-02-30"}, "needs a date as YYYY-MM-DD"),
        ({"type": "date", "op": "in_last_days", "value": -1}, "whole number of days"),
        ({"type": "date", "op": "anniversary_in_days", "value": 400}, "0 to 366"),
        ({"type": "shoe", "op": "eq", "value": "x"}, "type is one of"),
        ({"type": "text", "op": "eq", "value": "a\x00b"}, "NUL"),
    ],
)
def test_bad_typed_rules_are_refused_with_the_reason(rule, problem) -> None:
    rules = {"rules": [{"field": "attribute", "key": "k", **rule}]}
    assert any(problem in p for p in segment_rules_check(rules)), segment_rules_check(rules)
    with pytest.raises(SegmentError):
        segment_count(rules=rules)


def test_an_exclusion_is_exactly_everyone_else_even_for_missing_values(people) -> None:
    rules = _attr("last_order_value", "number", "gt", 50)
    inside = set(
        Contact.objects.filter(segment_condition(rules=rules, now=NOW)).values_list("id", flat=True)
    )
    outside = set(
        Contact.objects.exclude(segment_condition(rules=rules, now=NOW)).values_list(
            "id", flat=True
        )
    )
    assert inside.isdisjoint(outside)
    assert inside | outside == set(Contact.objects.values_list("id", flat=True))


def test_the_added_date_of_a_contact_is_a_date_field(people) -> None:
    Contact.objects.filter(pk=people["bob"].pk).update(created_at=NOW - dt.timedelta(days=400))
    rules = {"rules": [{"field": "created_at", "op": "more_than_days_ago", "value": 365}]}
    assert _names(rules, people) == {"bob"}
    # Added on 2 November 2025: the next anniversary is 2 November 2027, 330 days from now.
    rules = {"rules": [{"field": "created_at", "op": "anniversary_in_days", "value": 330}]}
    assert _names(rules, people) == {"bob"}


def test_engagement_per_channel(people) -> None:
    campaign = Campaign.objects.create(name="wa", channel="whatsapp_template")
    ann, bob = people["ann"], people["bob"]
    wa = Message.objects.create(campaign=campaign, contact=ann, phone=ann.phone,
                                channel="whatsapp", state="delivered")  # fmt: skip
    Message.objects.create(campaign=campaign, contact=bob, phone=bob.phone, channel="sms",
                           state="delivered")  # fmt: skip
    Click.objects.create(message=wa, clicked_at=timezone.now())
    InboundMessage.objects.create(
        channel="sms", contact=bob, infobip_message_id="i1", from_number="447946000002",
        received_at=timezone.now(),
    )  # fmt: skip

    def on(event: str, channel: str) -> set[str]:
        rule = {"field": "engagement", "event": event, "within_days": 30, "channel": channel}
        return _names({"rules": [rule]}, people, now=timezone.now())

    assert on("delivered", "whatsapp") == {"ann"}
    assert on("delivered", "sms") == {"bob"}
    assert on("clicked", "whatsapp") == {"ann"}
    assert on("clicked", "sms") == set()
    assert on("replied", "sms") == {"bob"}
    assert on("replied", "whatsapp") == set()
    # The same inside an OR (the id-set form).
    either = {"match": "any", "rules": [
        {"field": "engagement", "event": "clicked", "channel": "whatsapp"},
        {"field": "engagement", "event": "replied", "channel": "sms"}]}  # fmt: skip
    assert _names(either, people, now=timezone.now()) == {"ann", "bob"}
    problems = segment_rules_check(
        {"rules": [{"field": "engagement", "event": "delivered", "channel": "pigeon"}]}
    )
    assert len(problems) == 1
    assert "channel is one of sms, whatsapp" in problems[0]


def test_one_contact_and_an_event_match_for_a_journey_branch(people) -> None:
    rules = {"match": "all", "rules": [
        {"field": "event", "key": "total", "type": "number", "op": "gt", "value": 100},
        {"field": "attribute", "key": "city", "op": "eq", "value": "Leeds"}]}  # fmt: skip
    ann = people["ann"].pk
    assert segment_matches(rules=rules, contact_id=ann, event={"total": "150.5"}, now=NOW)
    assert not segment_matches(rules=rules, contact_id=ann, event={"total": 99}, now=NOW)
    assert not segment_matches(rules=rules, contact_id=ann, event={}, now=NOW)
    assert not segment_matches(
        rules=rules, contact_id=people["bob"].pk, event={"total": 150}, now=NOW
    )
    # Outside a journey, event rules are refused with the reason.
    with pytest.raises(SegmentError, match="journey's branch step"):
        segment_count(rules=rules)


def test_the_preview_counts_and_samples_the_newest_matches(people) -> None:
    preview = segment_preview(rules=_attr("last_order_value", "number", "gt", 0), now=NOW)
    assert preview.count == 3
    assert [c.pk for c in preview.sample] == sorted(
        (people[n].pk for n in ("ann", "bob", "cat")), reverse=True
    )
    assert segment_preview(rules=_attr("city", "text", "eq", "nowhere"), now=NOW).count == 0


def test_a_batch_of_entries_matches_each_with_its_own_event(people) -> None:
    rules = {"match": "any", "rules": [
        {"field": "event", "key": "total", "type": "number", "op": "gte", "value": 100},
        {"match": "all", "rules": [
            {"field": "event", "key": "item", "op": "contains", "value": "shoe"},
            {"field": "attribute", "key": "vip", "type": "boolean",
             "op": "is_true"}]}]}  # fmt: skip
    ann, bob, cat = people["ann"].pk, people["bob"].pk, people["cat"].pk
    entries = [
        (1, ann, {"total": "150"}),  # a big basket
        (2, ann, {"total": 99, "item": "Red Shoes"}),  # ann is a VIP: the shoes count
        (3, bob, {"total": "99.5", "item": "shoes"}),  # bob is not a VIP
        (4, cat, {"item": "snowshoe"}),  # cat is a VIP (JSON true)
        (5, bob, {}),
        (6, cat, None),
    ]
    assert segment_entries_matching(rules=rules, entries=entries, now=NOW) == {1, 2, 4}
    assert segment_entries_matching(rules=rules, entries=[], now=NOW) == set()
