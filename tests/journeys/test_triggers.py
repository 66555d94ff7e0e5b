"""Keyword, list and date triggers, and who may claim a keyword (PostgreSQL)."""

import datetime as dt

import pytest

from contacts.models import ContactList, OptInKeyword
from contacts.services import contact_list_add
from core.rules import OPERATOR
from infobip.models import InboundMessage
from journeys.models import JourneyEntry
from journeys.services import JourneyError, journey_activate, journey_create
from journeys.triggers import date_triggers_sweep
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _keyword(word: str, number: str = "", name: str = "Welcome") -> dict:
    return {
        "name": name,
        "trigger": {"type": "keyword", "keyword": word, "number": number},
        "steps": [{"id": "hi", "type": "send", "channel": "sms", "text": "Welcome!"}],
    }


def _inbound(text: str, to: str, sender: str = "447946000101") -> None:
    from inbox.services import inbound_store
    from infobip.webhooks import Inbound

    inbound_store(
        items=[
            (
                (None, 0),
                Inbound(
                    channel="sms",
                    message_id=f"in-{text}-{to}",
                    from_=sender,
                    to=to,
                    message_type="TEXT",
                    text=text,
                    clean_text=text,
                    keyword="",
                    media_url="",
                    received_at=None,
                    payload={},
                ),
            )
        ]
    )


def test_a_keyword_on_a_number_lets_the_sender_in_like_stop_matches(live_journey, clock):
    journey = live_journey(_keyword("Join", "+44 7860 099299"))
    _inbound("¡JOIN! please", "447860099299")
    _inbound("join", "447860000000")  # another number: not this journey's
    entries = JourneyEntry.objects.filter(journey=journey)
    assert entries.count() == 1
    assert entries.get().source.startswith("inbound:")
    claimed = InboundMessage.objects.get(to_number="447860099299")
    assert claimed.keyword_action == "journey"


@pytest.mark.parametrize(
    ("word", "why"), [("STOP", "opt-out"), ("start", "opt-in"), ("HELP", "help")]
)
def test_inbox_keywords_cannot_be_claimed(word, why) -> None:
    with pytest.raises(JourneyError, match=why):
        journey_create(definition=_keyword(word), actor=OPERATOR)


def test_two_journeys_cannot_claim_one_keyword_on_one_number(live_journey) -> None:
    live_journey(_keyword("JOIN", "447860099299", name="First"))
    with pytest.raises(JourneyError, match="belongs to the journey 'First'"):
        journey_create(definition=_keyword("join", "447860099299", name="Second"), actor=OPERATOR)
    # Any number overlaps with a specific one too.
    with pytest.raises(JourneyError, match="belongs to the journey 'First'"):
        journey_create(definition=_keyword("Join", "", name="Third"), actor=OPERATOR)
    live_journey(_keyword("JOIN", "447860000000", name="Other number"))


def test_an_opt_in_keyword_is_not_a_journeys(db) -> None:
    vip = ContactList.objects.create(name="VIP")
    OptInKeyword.objects.create(keyword="VIP", contact_list=vip, confirmation_text="Thanks")
    with pytest.raises(JourneyError, match="opt-in keyword"):
        journey_create(definition=_keyword("vip"), actor=OPERATOR)


def test_the_database_refuses_a_second_claim_that_raced_the_check(live_journey) -> None:
    from journeys.models import Journey

    live_journey(_keyword("JOIN", "447860099299", name="First"))
    second = journey_create(definition=_keyword("Other"), actor=OPERATOR)
    # As if the check ran before the first journey was activated: only the constraint is left.
    Journey.objects.filter(pk=second.pk).update(draft=_keyword("JOIN", "447860099299", "Second"))
    second.refresh_from_db()
    with pytest.raises(JourneyError):
        journey_activate(journey=second, actor=OPERATOR)


def test_joining_a_list_lets_contacts_in_once(live_journey) -> None:
    vip = ContactList.objects.create(name="VIP")
    journey = live_journey(
        {
            "name": "VIP welcome",
            "trigger": {"type": "list_joined", "list": "VIP"},
            "steps": [{"id": "hi", "type": "send", "channel": "sms", "text": "Welcome to VIP"}],
        }
    )
    ana, bob = ContactFactory(), ContactFactory()
    contact_list_add(contact_list=vip, contact_ids=[ana.pk, bob.pk])
    contact_list_add(contact_list=vip, contact_ids=[ana.pk])  # already on it: no new join
    assert JourneyEntry.objects.filter(journey=journey).count() == 2


def test_include_and_exclude_lists_narrow_a_trigger(live_journey, clock) -> None:
    from journeys.events import events_record

    staff = ContactList.objects.create(name="Staff")
    journey = live_journey(
        {
            "name": "Not staff",
            "trigger": {"type": "event", "event": "visited", "exclude": {"lists": ["Staff"]}},
            "steps": [{"id": "hi", "type": "send", "channel": "sms", "text": "Hello"}],
        }
    )
    ana, bob = ContactFactory(), ContactFactory(lists=[staff])
    events_record(events=[{"name": "visited", "contact": {"id": c.pk}} for c in (ana, bob)])
    assert list(
        JourneyEntry.objects.filter(journey=journey).values_list("contact_id", flat=True)
    ) == [ana.pk]


def test_a_birthday_lets_the_contact_in_once_the_day_before_at_ten_local(live_journey) -> None:
    journey = live_journey(
        {
            "name": "Birthday",
            "reentry": "always",
            "trigger": {
                "type": "date_attribute",
                "attribute": "birthday",
                "offset": "-P1D",
                "at": "10:00",
            },
            "steps": [{"id": "hi", "type": "send", "channel": "sms", "text": "Happy birthday!"}],
        }
    )
    tokyo = ContactFactory(timezone="Asia/Tokyo", attributes={"birthday": "1990-06-16"})
    ContactFactory(timezone="Asia/Tokyo", attributes={"birthday": "1990-07-01"})
    ContactFactory(timezone="Asia/Tokyo", attributes={"birthday": "not a date"})
    # 09:30 in Tokyo on June 15: the day before, but before 10:00.
    early = dt.datetime(2027, 6, 15, 0, 30, tzinfo=dt.UTC)
    assert date_triggers_sweep(now=early) == 0
    late = dt.datetime(2027, 6, 15, 1, 30, tzinfo=dt.UTC)  # 10:30 in Tokyo
    from journeys.models import Journey

    Journey.objects.filter(pk=journey.pk).update(swept_through=None)
    assert date_triggers_sweep(now=late) == 1
    Journey.objects.filter(pk=journey.pk).update(swept_through=None)
    assert date_triggers_sweep(now=late + dt.timedelta(hours=1)) == 0  # the same occasion
    entry = JourneyEntry.objects.get(journey=journey)
    assert (entry.contact_id, entry.key) == (tokyo.pk, "2027-06-15")


def test_a_backtest_replays_real_events_and_keeps_nothing(live_journey, clock) -> None:
    from campaigns.models import Campaign, Message
    from journeys.events import events_record
    from journeys.models import Journey
    from journeys.simulate import journey_backtest
    from tests.journeys.conftest import ABANDONED_CART

    contacts = [ContactFactory(timezone="UTC") for _ in range(4)]
    past = clock.now - dt.timedelta(days=10)
    carts = [
        {
            "name": "cart_abandoned",
            "contact": {"id": c.pk},
            "key": f"k{i}",
            "properties": {"item": "x"},
        }
        for i, c in enumerate(contacts)
    ]
    carts.append(carts[0])  # the same cart twice: one entry
    events_record(events=carts, now=past)
    events_record(
        events=[{"name": "order_placed", "contact": {"id": contacts[1].pk}, "key": "k1"}],
        now=past + dt.timedelta(minutes=10),
    )
    draft = journey_create(definition=ABANDONED_CART, actor=OPERATOR)
    before = (Journey.objects.count(), Campaign.objects.count(), Message.objects.count())
    report = journey_backtest(journey=draft, days=30, actor=OPERATOR, now=clock.now)
    assert (report.triggers, report.entries, report.double_entries) == (5, 4, 0)
    assert report.exits["goal"] == 1
    assert report.sends == 3 + 3  # three first SMS; no click is assumed, so three last calls
    assert report.in_flight == 0
    assert (Journey.objects.count(), Campaign.objects.count(), Message.objects.count()) == before


def test_the_date_sweep_reads_contacts_through_the_month_day_index() -> None:
    """The sweep's filter is the contact_month_days index's expression: the index serves it
    (with sequential scans off, as a 1M-contact table would choose), and it finds the dates
    of that key and month-day only, whatever the year, not other keys' or non-dates."""
    import json

    from django.db import connection

    from contacts.models import Contact
    from journeys.triggers import date_occasions

    renewal = ContactFactory(attributes={"renewal_date": "2027-12-10", "birthday": "1990-01-02"})
    ContactFactory(attributes={"renewal_date": "2026-12-11"})
    ContactFactory(attributes={"birthday": "1990-12-10", "renewal_date": "soon"})
    ContactFactory(attributes={})
    query = Contact.objects.filter(date_occasions("renewal_date", ["12-09", "12-10"]))
    assert list(query.values_list("id", flat=True)) == [renewal.pk]
    # Unordered, and with plain index scans off too: ordered by id, the planner may walk the
    # primary key backwards and filter (it did once in CI); the question here is only whether
    # the month-day index can serve the filter, which a GIN index does as a bitmap scan.
    sql, params = query.order_by().values_list("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = json.dumps(cursor.fetchone()[0])
    assert '"Index Name": "contact_month_days"' in plan, plan
    assert '"Seq Scan"' not in plan, plan
