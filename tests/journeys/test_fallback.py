"""A send step's fallback chain inside journeys: checked like a campaign's, run by the step's
campaign (campaigns/failover.py), once per message — also for a contact's second entry — and
a fallback message's delivery or click is its entry's (wait_for)."""

import copy

import pytest
from django.utils import timezone

from campaigns.failover import failover_after_reports, failover_create
from campaigns.models import Message
from journeys.events import events_record
from journeys.models import JourneyEntry, SendStep
from journeys.spec import definition_check, definition_parse
from journeys.waits import happened, messages_clicked, messages_final_receiver
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

CHAIN = {
    "name": "Order shipped",
    "trigger": {"type": "event", "event": "shipped"},
    "reentry": "always",
    "steps": [
        {
            "id": "viber1",
            "type": "send",
            "channel": "viber",
            "text": "Hi {{first_name}}, your order shipped",
            "fallback": [{"channel": "sms", "text": "Hi {{first_name}}, shipped (SMS)"}],
            "fallback_after": "PT30M",
        },
        {
            "id": "wait1",
            "type": "wait_for",
            "event": "delivered",
            "timeout": "P1D",
            "then": "done",
            "else": "done",
        },
        {"id": "done", "type": "exit"},
    ],
}


def _definition(**send) -> dict:
    definition = copy.deepcopy(CHAIN)
    definition["steps"][0].update(send)
    return definition


def _problems(**send) -> list[str]:
    return [p for p in definition_check(_definition(**send)) if "fallback" in p]


def test_the_chain_is_checked_as_a_campaigns_is() -> None:
    parsed = definition_parse(_definition(fallback=["rcs", "sms"]))
    chain = parsed.step("viber1").raw["fallback"]
    assert [s["channel"] for s in chain] == ["rcs", "sms"]
    assert _problems() == []
    assert _problems(fallback=["sms", "sms"]) == [
        "steps[0].fallback: SMS is already a step of this campaign: each medium once"
    ]
    assert _problems(fallback=["viber"])[0].startswith("steps[0].fallback: a Viber campaign")
    assert "a list of channels" in _problems(fallback=7)[0]
    # The event's values never reach a fallback message: refused, not silently skipped.
    problems = _problems(text="Your {{event.item}} shipped", fallback=["sms"])
    assert problems == [
        "steps[0].fallback[0].text: {{event.…}} values cannot reach a fallback message; give "
        "the step its own text with contact values only"
    ]
    assert "PT1M to P2D" in _problems(fallback_after="P9D")[0]
    assert _problems(fallback=[], fallback_after="PT1H") == [
        "steps[0].fallback_after: only with a fallback chain"
    ]
    template = {
        "channel": "whatsapp_template",
        "template": "t",
        "language": "en",
        "fallback": ["sms"],
    }
    assert _problems(**template) == ["steps[0].fallback: SMS failover needs a failover text"]


def _enter(phone: str, now) -> None:
    events_record(events=[{"name": "shipped", "contact": {"phone": phone}}], now=now)


def test_each_entry_gets_its_own_fallback_once(live_journey, clock) -> None:
    journey = live_journey(_definition())
    campaign = SendStep.objects.get(version__journey=journey).campaign
    assert (campaign.failover_mode, campaign.fallback[0]["channel"]) == ("herald", "sms")
    assert campaign.failover_after.total_seconds() == 1800
    ana = ContactFactory(phone="+447946000201", first_name="Ana")
    bob = ContactFactory(phone="+447946000202", first_name="Bob")
    for phone in (ana.phone, bob.phone, ana.phone):  # Ana enters twice
        _enter(phone, clock.now)
        clock.run(journey)
    viber = Message.objects.filter(campaign=campaign, channel="viber").order_by("id")
    assert [(m.contact_id, m.attempt) for m in viber] == [(ana.pk, 1), (bob.pk, 1), (ana.pk, 2)]
    # Ana's two messages were not delivered, Bob's was.
    Message.objects.filter(pk__in=[viber[0].pk, viber[2].pk]).update(state="undeliverable")
    Message.objects.filter(pk=viber[1].pk).update(state="delivered")
    failover_after_reports(message_ids=[m.pk for m in viber])  # as the reports do
    sms = Message.objects.filter(campaign=campaign, channel="sms").order_by("id")
    assert [(m.contact_id, m.attempt, m.replaces_id) for m in sms] == [
        (ana.pk, 1, viber[0].pk),
        (ana.pk, 2, viber[2].pk),
    ]
    assert {m.text for m in sms} == {"Hi Ana, shipped (SMS)"}
    # Each entry's message names its entry in the callbackData, and so does its fallback.
    assert [m.callback_data for m in sms] == [viber[0].callback_data, viber[2].callback_data]
    # Reported twice: nobody gets a second fallback.
    failover_after_reports(message_ids=[m.pk for m in viber])
    assert failover_create(message_ids=[viber[0].pk, viber[2].pk]) == 0
    assert sms.count() == 2


def test_a_fallback_delivered_or_clicked_is_the_entrys(live_journey, clock) -> None:
    journey = live_journey(_definition())
    ana = ContactFactory(phone="+447946000211", first_name="Ana")
    _enter(ana.phone, clock.now)
    clock.run(journey)
    entry = JourneyEntry.objects.get(journey=journey)
    viber = Message.objects.get(pk=entry.last_message)
    assert (entry.step, entry.wait_event, entry.resolved) == ("wait1", "delivered", "")
    Message.objects.filter(pk=viber.pk).update(state="undeliverable")
    failover_create(message_ids=[viber.pk])
    sms = Message.objects.get(replaces=viber)
    row = (entry.id, ana.pk, "", "delivered", viber.pk, timezone.now())
    assert happened([row]) == set()
    # The report path: the SMS's delivery resolves the entry waiting on the Viber message.
    messages_final_receiver(None, message_ids=[sms.pk])
    entry.refresh_from_db()
    assert entry.resolved == ""  # not delivered yet: nothing happened
    Message.objects.filter(pk=sms.pk).update(state="delivered")
    assert happened([row]) == {entry.id}
    messages_final_receiver(None, message_ids=[sms.pk])
    entry.refresh_from_db()
    assert entry.resolved == "then"
    # A click on the fallback message counts for the entry's message too.
    assert happened([(entry.id, ana.pk, "", "click", viber.pk, timezone.now())]) == set()
    assert messages_clicked(message_ids=[sms.pk]) == set()  # nobody waits on a click


def test_a_backtest_counts_what_the_chain_could_add(clock) -> None:
    import datetime as dt
    from decimal import Decimal

    from campaigns.pricing import estimate_cost
    from core.rules import OPERATOR
    from journeys.services import journey_create
    from journeys.simulate import journey_backtest

    phones = ["+447946000221", "+447946000222", "+447946000223"]
    for phone in phones:
        ContactFactory(phone=phone, first_name="Ana", timezone="UTC")
        _enter(phone, clock.now - dt.timedelta(days=2))
    chained = journey_backtest(
        journey=journey_create(definition=_definition(), actor=OPERATOR),
        days=7,
        actor=OPERATOR,
        now=clock.now,
    )
    assert chained.sends == 3
    assert chained.fallbacks == {"sms": 3}  # each Viber message could fall back to one SMS
    expected = estimate_cost((phone, "sms", 1) for phone in phones).total
    assert Decimal(chained.fallback_cost) == expected > 0
    assert any(a.startswith("fallbacks:") for a in chained.assumptions)
    plain = _definition(fallback=[])
    plain["steps"][0].pop("fallback_after")
    plain["name"] = "Order shipped, no chain"
    alone = journey_backtest(
        journey=journey_create(definition=plain, actor=OPERATOR),
        days=7,
        actor=OPERATOR,
        now=clock.now,
    )
    assert (alone.sends, alone.fallbacks, alone.fallback_cost) == (3, {}, "0.0000")
