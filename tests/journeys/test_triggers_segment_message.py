"""The `segment` and `message` triggers, and include/exclude on every trigger (PostgreSQL)."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.ledger import Outcome
from campaigns.models import Segment
from campaigns.outcomes import outcomes_apply_with_failover
from contacts.models import Contact, ContactList
from contacts.services import contact_list_add, contacts_set_attributes
from core.rules import OPERATOR
from journeys.models import Journey, JourneyEntry, SegmentMember
from journeys.segment_trigger import journey_segment_sweep, segment_triggers_sweep
from journeys.services import JourneyError, journey_create, journey_pause, journey_resume
from tests.factories import CampaignFactory, ContactFactory, MessageFactory

pytestmark = pytest.mark.django_db

HELLO = [{"id": "hi", "type": "send", "channel": "sms", "text": "Hello"}]


def _leeds() -> Segment:
    return Segment.objects.create(
        name="Leeds",
        rules={
            "match": "all",
            "rules": [{"field": "attribute", "key": "city", "op": "eq", "value": "Leeds"}],
        },
    )


def _segment_journey(live_journey, **extra):
    return live_journey(
        {
            "name": "Moved to Leeds",
            "trigger": {"type": "segment", "segment": "Leeds", **extra.pop("trigger", {})},
            "steps": HELLO,
            **extra,
        }
    )


def _entered(journey) -> list[int]:
    return list(
        JourneyEntry.objects.filter(journey=journey)
        .order_by("id")
        .values_list("contact_id", flat=True)
    )


def _move(contact, city, capture) -> None:
    """Change a contact's city through the contacts' service, then run the look its signal
    queued for after the commit (only that: the engine's wake-ups are other tests' business)."""
    with capture() as callbacks:
        contacts_set_attributes(contact_ids=[contact.pk], values={"city": city})
    looks = [c for c in callbacks if getattr(c, "__name__", "") == "look_again"]
    assert len(looks) == 1
    looks[0]()


def test_who_starts_matching_a_segment_enters_and_who_already_matched_does_not(
    live_journey, django_capture_on_commit_callbacks
) -> None:
    _leeds()
    ana = ContactFactory(attributes={"city": "Leeds"})  # matches before the journey is live
    bob = ContactFactory(attributes={"city": "York"})
    journey = _segment_journey(live_journey, reentry="always")
    # The first look is the baseline: Ana already matched, so she is remembered, not let in.
    assert journey_segment_sweep(journey_id=journey.pk).entered == 0
    assert set(SegmentMember.objects.values_list("contact_id", flat=True)) == {ana.pk}
    # Bob moves to Leeds: the contacts' signal looks at him at once, and he enters.
    _move(bob, "Leeds", django_capture_on_commit_callbacks)
    assert _entered(journey) == [bob.pk]
    # Looking again (a sweep, another write) lets nobody in twice for one start.
    assert journey_segment_sweep(journey_id=journey.pk).entered == 0
    _move(bob, "Leeds", django_capture_on_commit_callbacks)
    assert _entered(journey) == [bob.pk]
    # He leaves the segment (forgotten), then matches again: a new start, a second entry.
    _move(bob, "York", django_capture_on_commit_callbacks)
    assert not SegmentMember.objects.filter(contact=bob).exists()
    _move(bob, "Leeds", django_capture_on_commit_callbacks)
    assert _entered(journey) == [bob.pk, bob.pk]
    assert JourneyEntry.objects.filter(journey=journey).latest("id").seq == 2


def test_the_sweep_finds_what_no_write_signalled(live_journey) -> None:
    _leeds()
    journey = _segment_journey(live_journey)
    now = timezone.now()
    assert segment_triggers_sweep(now=now) == 0  # the baseline
    carl = ContactFactory(attributes={"city": "York"})
    # A change no service made (no signal): only the sweep sees it, once it is due again.
    Contact.objects.filter(pk=carl.pk).update(attributes={"city": "Leeds"})
    assert segment_triggers_sweep(now=now + dt.timedelta(seconds=10)) == 0  # not due yet
    assert segment_triggers_sweep(now=now + dt.timedelta(minutes=6)) == 1
    assert _entered(journey) == [carl.pk]


def test_the_re_entry_rule_holds_for_segment_starts(
    live_journey, django_capture_on_commit_callbacks
) -> None:
    _leeds()
    dan = ContactFactory(attributes={"city": "York"})
    journey = _segment_journey(live_journey)  # reentry: once
    journey_segment_sweep(journey_id=journey.pk)
    for city in ("Leeds", "York", "Leeds"):
        _move(dan, city, django_capture_on_commit_callbacks)
    assert _entered(journey) == [dan.pk]


def test_a_paused_segment_journey_lets_nobody_in_then_or_after(
    live_journey, django_capture_on_commit_callbacks
) -> None:
    _leeds()
    eve = ContactFactory(attributes={"city": "York"})
    journey = _segment_journey(live_journey)
    journey_segment_sweep(journey_id=journey.pk)
    journey_pause(journey=journey, actor=OPERATOR)
    _move(eve, "Leeds", django_capture_on_commit_callbacks)  # starts matching while paused
    journey_resume(journey=journey, actor=OPERATOR)
    Journey.objects.filter(pk=journey.pk).update(swept_through=timezone.now() - dt.timedelta(1))
    segment_triggers_sweep()
    assert _entered(journey) == []
    assert SegmentMember.objects.filter(contact=eve).exists()  # remembered meanwhile


def test_a_segment_edited_to_match_many_lets_them_in_in_bounded_looks(
    live_journey, monkeypatch
) -> None:
    from journeys import segment_trigger

    monkeypatch.setattr(segment_trigger, "ENTER_LIMIT", 3)
    segment = _leeds()
    people = [ContactFactory(attributes={"city": "York"}) for _ in range(5)]
    journey = _segment_journey(live_journey)
    journey_segment_sweep(journey_id=journey.pk)
    segment.rules = {
        "match": "all",
        "rules": [{"field": "attribute", "key": "city", "op": "eq", "value": "York"}],
    }
    segment.save()
    first = journey_segment_sweep(journey_id=journey.pk)
    assert (first.entered, first.more) == (3, True)
    second = journey_segment_sweep(journey_id=journey.pk)
    assert (second.entered, second.more) == (2, False)
    assert sorted(_entered(journey)) == sorted(p.pk for p in people)


def test_a_segment_trigger_needs_a_segment_that_exists() -> None:
    definition = {"name": "x", "trigger": {"type": "segment", "segment": "Nope"}, "steps": HELLO}
    with pytest.raises(JourneyError, match="no segment named 'Nope'"):
        journey_create(definition=definition, actor=OPERATOR)


# --- message outcomes ---------------------------------------------------------------------


def _outcome_journey(live_journey, outcome: str, campaign: int | None = None, **extra):
    trigger = {"type": "message", "outcome": outcome}
    if campaign is not None:
        trigger["campaign"] = campaign
    return live_journey(
        {
            "name": f"After {outcome}",
            "trigger": trigger,
            "steps": HELLO,
            "reentry": "always",
            **extra,
        }
    )


def _report(message, state: str) -> None:
    outcomes_apply_with_failover(outcomes=[Outcome(str(message.message_id), state)])


def test_a_delivery_of_a_campaign_message_lets_its_contact_in_once(live_journey) -> None:
    wanted, other = CampaignFactory(state="running"), CampaignFactory(state="running")
    journey = _outcome_journey(live_journey, "delivered", campaign=wanted.pk)
    mine = MessageFactory(campaign=wanted, state="accepted")
    theirs = MessageFactory(campaign=other, state="accepted")
    failed = MessageFactory(campaign=wanted, state="accepted")
    _report(mine, "delivered")
    _report(theirs, "delivered")  # another campaign's
    _report(failed, "undeliverable")  # not a delivery
    _report(mine, "delivered")  # a repeated report: no second entry
    entry = JourneyEntry.objects.get(journey=journey)
    assert (entry.contact_id, entry.source) == (mine.contact_id, f"delivered:{mine.pk}")
    assert entry.properties["campaign"] == wanted.pk


def test_a_journeys_own_messages_trigger_nothing(live_journey, clock) -> None:
    from campaigns.models import Message
    from journeys.events import events_record

    journey = _outcome_journey(live_journey, "delivered")
    sender = live_journey(
        {"name": "Sender", "trigger": {"type": "event", "event": "go"}, "steps": HELLO}
    )
    ana = ContactFactory()
    events_record(events=[{"name": "go", "contact": {"id": ana.pk}}], now=clock.now)
    clock.run(sender)
    sent = Message.objects.get(campaign__journey_step__version__journey=sender)
    Message.objects.filter(pk=sent.pk).update(state="accepted")
    _report(sent, "delivered")
    assert not JourneyEntry.objects.filter(journey=journey).exists()
    with pytest.raises(JourneyError, match="own messages"):
        journey_create(
            definition={
                "name": "Loop",
                "steps": HELLO,
                "trigger": {
                    "type": "message",
                    "outcome": "delivered",
                    "campaign": sent.campaign_id,
                },
            },
            actor=OPERATOR,
        )


def test_failed_waits_for_the_end_of_the_fallback_chain(live_journey) -> None:
    from campaigns.models import FailoverMode, Message

    campaign = CampaignFactory(
        state="running",
        channel="whatsapp_text",
        text="Hola",
        failover_mode=FailoverMode.HERALD,
        failover_text="Hi by SMS",
    )
    journey = _outcome_journey(live_journey, "failed")
    whatsapp = MessageFactory(campaign=campaign, channel="whatsapp", state="accepted")
    _report(whatsapp, "undeliverable")
    # SMS, the next step, follows: the person is not failed yet.
    assert not JourneyEntry.objects.filter(journey=journey).exists()
    sms = Message.objects.get(replaces=whatsapp)
    Message.objects.filter(pk=sms.pk).update(state="accepted")
    _report(sms, "undeliverable")
    entry = JourneyEntry.objects.get(journey=journey)
    assert (entry.contact_id, entry.source) == (whatsapp.contact_id, f"failed:{sms.pk}")


def test_a_click_lets_the_contact_in_once_per_message(live_journey) -> None:
    from campaigns.clicks import clicks_store
    from infobip.webhooks import ClickNotification

    journey = _outcome_journey(live_journey, "clicked")
    message = MessageFactory(campaign=CampaignFactory(state="running"), state="delivered")
    click = ClickNotification(
        message_id=str(message.message_id),
        callback_data="",
        url="https://shop.example",
        recipient=message.phone,
        sent_at=None,
        device_type="",
        os="",
        device_name="",
        country="",
        city="",
        raw={},
    )
    now = timezone.now()
    clicks_store(items=[((None, 0), click, now)])  # no stored event: nothing to look up
    assert not JourneyEntry.objects.filter(journey=journey).exists()
    from infobip.models import WebhookEvent

    event = WebhookEvent.objects.create(kind="clicks", body="{}")
    clicks_store(items=[((event.pk, 0), click, now), ((event.pk, 1), click, now)])
    assert _entered(journey) == [message.contact_id]


def test_a_reply_answers_the_latest_message_within_a_week(live_journey) -> None:
    from tests.journeys.test_triggers import _inbound

    wanted = CampaignFactory(state="running")
    journey = _outcome_journey(live_journey, "replied", campaign=wanted.pk)
    ana, bob, carl = (ContactFactory(phone=f"+4479460001{n:02d}") for n in (1, 2, 3))
    MessageFactory(campaign=wanted, contact=ana, state="delivered")
    old = MessageFactory(campaign=wanted, contact=bob, state="delivered")
    from campaigns.models import Message

    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=8))
    MessageFactory(campaign=wanted, contact=carl, state="delivered")
    MessageFactory(campaign=CampaignFactory(state="running"), contact=carl, state="delivered")
    for contact in (ana, bob, carl):
        _inbound("thanks, see you", "447860099299", sender=contact.phone.lstrip("+"))
    # Bob's message is too old; Carl's latest message is another campaign's.
    assert _entered(journey) == [ana.pk]


def _fire(kind: str, contacts: list, capture) -> None:
    """Fire a trigger for these contacts through its own path (API event, inbound keyword, list
    join, segment start, birthday, delivery)."""
    from journeys.events import events_record
    from tests.journeys.test_triggers import _inbound

    if kind == "event":
        events_record(events=[{"name": "visited", "contact": {"id": c.pk}} for c in contacts])
    elif kind == "keyword":
        for c in contacts:
            _inbound("JOIN", "447860099299", sender=c.phone.lstrip("+"))
    elif kind == "list_joined":
        contact_list_add(
            contact_list=ContactList.objects.get(name="Joined"),
            contact_ids=[c.pk for c in contacts],
        )
    elif kind == "segment":
        for c in contacts:
            _move(c, "Leeds", capture)
    elif kind == "date_attribute":
        today = timezone.now().date()
        Contact.objects.filter(pk__in=[c.pk for c in contacts]).update(
            timezone="UTC", attributes={"birthday": f"1990-{today:%m-%d}", "blocked": "no"}
        )
        Contact.objects.filter(pk=contacts[-1].pk).update(
            attributes={"birthday": f"1990-{today:%m-%d}", "blocked": "yes"}
        )
        Journey.objects.update(swept_through=None)
        from journeys.triggers import date_triggers_sweep

        date_triggers_sweep(now=dt.datetime.combine(today, dt.time(23, 59), tzinfo=dt.UTC))
    else:
        campaign = CampaignFactory(state="running")
        for c in contacts:
            _report(MessageFactory(campaign=campaign, contact=c, state="accepted"), "delivered")


@pytest.mark.parametrize(
    "kind", ["event", "keyword", "list_joined", "segment", "date_attribute", "message"]
)
def test_include_and_exclude_narrow_every_trigger(
    live_journey, kind, django_capture_on_commit_callbacks
) -> None:
    """The same audience on every trigger, fired through its own path: only contacts on
    Members, never those on Staff, never those in the Blocked segment."""
    members, staff = (ContactList.objects.create(name=n) for n in ("Members", "Staff"))
    Segment.objects.create(
        name="Blocked",
        rules={
            "match": "all",
            "rules": [{"field": "attribute", "key": "blocked", "op": "eq", "value": "yes"}],
        },
    )
    _leeds()
    ContactList.objects.create(name="Joined")
    triggers = {
        "event": {"event": "visited"},
        "keyword": {"keyword": "JOIN"},
        "list_joined": {"list": "Joined"},
        "segment": {"segment": "Leeds"},
        "date_attribute": {"attribute": "birthday", "at": "00:00"},
        "message": {"outcome": "delivered"},
    }
    journey = live_journey(
        {
            "name": kind,
            "steps": HELLO,
            "reentry": "always",
            "trigger": {
                "type": kind,
                **triggers[kind],
                "include": {"lists": ["Members"]},
                "exclude": {"lists": ["Staff"], "segments": ["Blocked"]},
            },
        }
    )
    ok = ContactFactory(lists=[members], attributes={"blocked": "no"})
    outsider = ContactFactory(attributes={"blocked": "no"})
    on_staff = ContactFactory(lists=[members, staff], attributes={"blocked": "no"})
    blocked = ContactFactory(lists=[members], attributes={"blocked": "yes"})
    if kind == "segment":
        journey_segment_sweep(journey_id=journey.pk)  # the baseline
    _fire(kind, [ok, outsider, on_staff, blocked], django_capture_on_commit_callbacks)
    assert _entered(journey) == [ok.pk]


def test_a_backtest_replays_stored_outcomes_and_refuses_segment_starts(clock) -> None:
    from campaigns.models import Message
    from journeys.simulate import journey_backtest

    campaign = CampaignFactory(state="running")
    done = clock.now - dt.timedelta(days=5)
    for state in ("delivered", "delivered", "undeliverable"):
        message = MessageFactory(campaign=campaign, state=state)
        Message.objects.filter(pk=message.pk).update(done_at=done)
    draft = journey_create(
        definition={
            "name": "Thanks",
            "steps": HELLO,
            "trigger": {"type": "message", "outcome": "delivered", "campaign": campaign.pk},
        },
        actor=OPERATOR,
    )
    report = journey_backtest(journey=draft, days=30, actor=OPERATOR, now=clock.now)
    assert (report.triggers, report.entries, report.sends) == (2, 2, 2)
    _leeds()
    draft = journey_create(
        definition={
            "name": "Moved",
            "steps": HELLO,
            "trigger": {"type": "segment", "segment": "Leeds"},
        },
        actor=OPERATOR,
    )
    with pytest.raises(JourneyError, match="no history"):
        journey_backtest(journey=draft, days=30, actor=OPERATOR, now=clock.now)
