"""Each rule of issue 27 on PostgreSQL, with simulated time (the engine run in-process)."""

import copy

import pytest

from campaigns.models import Message
from journeys.events import events_record
from journeys.models import EntryStep, JourneyEntry, JourneyMember
from journeys.services import journey_status
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

SIMPLE = {
    "name": "Welcome",
    "trigger": {"type": "event", "event": "signed_up"},
    "steps": [{"id": "hello", "type": "send", "channel": "sms", "text": "Hi {{first_name}}"}],
}


def _event(name, contact, key="", **properties):
    return {"name": name, "contact": {"phone": contact.phone}, "key": key, "properties": properties}


def _definition(**changes):
    definition = copy.deepcopy(SIMPLE)
    definition.update(changes)
    return definition


def _entered(result) -> list[bool]:
    return [j["entered"] for e in result.events for j in e["journeys"]]


@pytest.mark.parametrize(
    ("reentry", "keys", "expected"),
    [
        ("once", ["a", "a", "b"], [True, False, False]),
        ("once_per_key", ["a", "a", "b"], [True, False, True]),
        ("always", ["a", "a", "b"], [True, True, True]),
    ],
)
def test_reentry_rules_are_the_databases(live_journey, clock, reentry, keys, expected) -> None:
    journey = live_journey(_definition(reentry=reentry))
    ana = ContactFactory()
    seen = []
    for key in keys:
        seen += _entered(events_record(events=[_event("signed_up", ana, key)], now=clock.now))
    assert seen == expected
    assert JourneyEntry.objects.filter(journey=journey).count() == sum(expected)
    member = JourneyMember.objects.get(journey=journey, contact=ana)
    assert member.entries >= sum(expected)
    # Each entry is its own ledger row: the attempt is the contact's entry number.
    clock.run(journey)
    attempts = sorted(Message.objects.filter(contact=ana).values_list("attempt", flat=True))
    assert len(attempts) == sum(expected) == len(set(attempts))


def test_a_repeat_within_one_batch_is_decided_in_order(live_journey, clock) -> None:
    journey = live_journey(_definition(reentry="once"))
    ana, bob = ContactFactory(), ContactFactory()
    result = events_record(
        events=[_event("signed_up", ana), _event("signed_up", ana), _event("signed_up", bob)],
        now=clock.now,
    )
    assert _entered(result) == [True, False, True]
    assert JourneyEntry.objects.filter(journey=journey).count() == 2


def test_cooldown_lets_a_contact_in_again_only_after_it(live_journey, clock) -> None:
    live_journey(_definition(reentry={"after": "P30D"}))
    ana = ContactFactory()
    first = events_record(events=[_event("signed_up", ana)], now=clock.now)
    clock.advance(days=29)
    early = events_record(events=[_event("signed_up", ana)], now=clock.now)
    clock.advance(days=2)
    late = events_record(events=[_event("signed_up", ana)], now=clock.now)
    assert (_entered(first), _entered(early), _entered(late)) == ([True], [False], [True])


def test_the_same_event_id_twice_is_one_event(live_journey, clock) -> None:
    journey = live_journey(_definition(reentry="always"))
    ana = ContactFactory()
    event = {**_event("signed_up", ana), "id": "shop-42"}
    first = events_record(events=[event], now=clock.now)
    again = events_record(events=[event], now=clock.now)
    assert again.events[0]["id"] == first.events[0]["id"]
    assert again.events[0]["duplicate"] is True
    assert JourneyEntry.objects.filter(journey=journey).count() == 1


def test_goal_makes_the_contact_leave_at_once_on_its_key(
    live_journey, cart_definition, clock
) -> None:
    journey = live_journey(cart_definition)
    ana = ContactFactory()
    carts = [
        _event("cart_abandoned", ana, "cart-1", item="shoes"),
        _event("cart_abandoned", ana, "cart-2", item="hat"),
    ]
    events_record(events=carts, now=clock.now)
    clock.run(journey)
    # An order for another cart leaves cart-1's entry where it is.
    events_record(events=[_event("order_placed", ana, "cart-2")], now=clock.now)
    entries = dict(JourneyEntry.objects.filter(journey=journey).values_list("key", "state"))
    assert entries == {"cart-1": "active", "cart-2": "done"}
    gone = JourneyEntry.objects.get(journey=journey, key="cart-2")
    assert gone.exit_reason == "goal"
    assert list(EntryStep.objects.filter(entry=gone).values_list("outcome", "detail")) == [
        ("exited", "goal order_placed")
    ]
    clock.advance(hours=2)
    clock.run(journey)
    assert Message.objects.filter(contact=ana).count() == 1  # only cart-1's SMS
    status = journey_status(journey=journey)
    assert status["counts"]["exited"]["goal"] == 1
    assert status["counts"]["active"] == 1


def test_an_opted_out_contact_leaves_before_the_next_send(live_journey, cart_definition, clock):
    journey = live_journey(cart_definition)
    ana = ContactFactory()
    events_record(events=[_event("cart_abandoned", ana, "c1", item="x")], now=clock.now)
    clock.run(journey)
    ana.opted_out = True
    ana.save()
    clock.advance(hours=2)
    clock.run(journey)
    entry = JourneyEntry.objects.get(journey=journey)
    assert (entry.state, entry.exit_reason, entry.step) == ("done", "opted_out", "sms1")
    assert not Message.objects.filter(contact=ana).exists()


def test_quiet_hours_delay_a_send_and_never_drop_it(live_journey, clock, settings) -> None:
    journey = live_journey(_definition(quiet_hours="09:00-17:00"))
    ana = ContactFactory(timezone="UTC")
    clock.now = clock.now.replace(hour=20, minute=0, second=0, microsecond=0)
    events_record(events=[_event("signed_up", ana)], now=clock.now)
    clock.run(journey)
    entry = JourneyEntry.objects.get(journey=journey)
    assert entry.state == "active"
    assert (entry.due_at.hour, entry.due_at.minute) == (9, 0)
    held = EntryStep.objects.get(entry=entry)
    assert held.outcome == "held"
    assert "quiet hours" in held.detail
    assert not Message.objects.exists()
    clock.now = entry.due_at
    clock.run(journey)
    assert Message.objects.get(contact=ana).state == "queued"
    hello = next(s for s in journey_status(journey=journey)["steps"] if s["id"] == "hello")
    assert (hello["delayed"], hello["sent"]) == (1, 1)


def _capped(settings, ana, n: int) -> None:
    settings.HERALD_FREQUENCY_CAPS = [{"messages": n, "days": 7, "channel": "sms"}]
    from tests.factories import MessageFactory

    for _ in range(n):
        MessageFactory(contact=ana, state="delivered", channel="sms")


@pytest.mark.parametrize(
    ("policy", "sent", "held"), [("delay", 0, 1), ("skip", 0, 0), ("exempt", 1, 0)]
)
def test_frequency_caps_delay_skip_or_exempt(live_journey, clock, settings, policy, sent, held):
    journey = live_journey(_definition(caps=policy))
    ana = ContactFactory()
    _capped(settings, ana, 2)
    events_record(events=[_event("signed_up", ana)], now=clock.now)
    clock.run(journey)
    rows = Message.objects.filter(contact=ana, campaign__journey_step__isnull=False)
    assert rows.filter(state="queued").count() == sent
    outcomes = list(EntryStep.objects.values_list("outcome", flat=True))
    assert outcomes.count("held") == held
    if policy == "skip":
        assert rows.get().state == "skipped"
        assert "frequency cap" in rows.get().reason
    if policy == "delay":
        entry = JourneyEntry.objects.get(journey=journey)
        assert entry.due_at > clock.now  # waits until the oldest counted message leaves


def test_wait_for_a_click_takes_then_when_the_message_was_clicked(
    live_journey, cart_definition, clock
) -> None:
    from infobip.models import Click

    journey = live_journey(cart_definition)
    ana = ContactFactory()
    events_record(events=[_event("cart_abandoned", ana, "c1", item="x")], now=clock.now)
    clock.advance(hours=1, minutes=1)
    clock.run(journey)
    message = Message.objects.get(contact=ana)
    Click.objects.create(
        message=message, campaign_id=message.campaign_id, url="https://x", clicked_at=clock.now
    )
    from journeys.waits import messages_clicked

    assert messages_clicked(message_ids=[message.pk]) == {journey.pk}
    clock.run(journey)
    entry = JourneyEntry.objects.get(journey=journey)
    assert (entry.state, entry.exit_reason) == ("done", "completed")
    outcomes = list(EntryStep.objects.filter(entry=entry).values_list("step_id", "outcome"))
    assert outcomes[-2:] == [("wait2", "then"), ("done", "exited")]
    assert Message.objects.filter(contact=ana).count() == 1  # no second SMS


def test_a_click_missed_by_the_signal_is_found_at_the_timeout(
    live_journey, cart_definition, clock
) -> None:
    from infobip.models import Click

    journey = live_journey(cart_definition)
    ana = ContactFactory()
    events_record(events=[_event("cart_abandoned", ana, "c1", item="x")], now=clock.now)
    clock.advance(hours=1, minutes=1)
    clock.run(journey)
    message = Message.objects.get(contact=ana)
    Click.objects.create(message=message, url="https://x", clicked_at=clock.now)  # no signal
    clock.advance(days=2)
    clock.run(journey)
    steps = list(EntryStep.objects.values_list("step_id", "outcome"))
    assert ("wait2", "then") in steps
    assert Message.objects.filter(contact=ana).count() == 1


def test_branch_on_the_event_and_the_contact_and_a_seeded_split(live_journey, clock) -> None:
    definition = _definition(
        reentry="always",
        steps=[
            {
                "id": "b",
                "type": "branch",
                "then": "vip",
                "else": "ab",
                "rule": {
                    "match": "all",
                    "rules": [
                        {"field": "event", "key": "total", "op": "in", "value": ["100", "200"]},
                        {"field": "attribute", "key": "tier", "op": "eq", "value": "gold"},
                    ],
                },
            },
            {"id": "vip", "type": "update", "set": {"vip": "yes"}, "next": "end"},
            {
                "id": "ab",
                "type": "split",
                "branches": [
                    {"name": "A", "weight": 1, "next": "end"},
                    {"name": "B", "weight": 1, "next": "end"},
                ],
            },
            {"id": "end", "type": "exit"},
        ],
    )
    journey = live_journey(definition)
    gold = ContactFactory(attributes={"tier": "gold"})
    others = [ContactFactory() for _ in range(40)]
    signups = [_event("signed_up", c, total="100") for c in [gold, *others]]
    events_record(events=signups, now=clock.now)
    clock.run(journey)
    gold.refresh_from_db()
    assert gold.attributes == {"tier": "gold", "vip": "yes"}
    picks = dict(EntryStep.objects.filter(step_id="ab").values_list("entry__contact_id", "outcome"))
    assert set(picks.values()) == {"A", "B"}
    assert len(picks) == 40
    # The same contact lands in the same branch on every entry (core.draw, seeded per journey).
    events_record(events=[_event("signed_up", c, total="5") for c in others], now=clock.now)
    clock.run(journey)
    again = EntryStep.objects.filter(step_id="ab").values_list("entry__contact_id", "outcome")
    for contact_id, outcome in again:
        assert picks[contact_id] == outcome


def test_pause_holds_waits_and_archive_stop_lets_everyone_out(
    live_journey, cart_definition, clock
) -> None:
    from core.rules import OPERATOR
    from journeys.services import journey_archive, journey_pause, journey_resume

    journey = live_journey(cart_definition)
    contacts = [ContactFactory() for _ in range(3)]
    events_record(
        events=[_event("cart_abandoned", c, "k", item="x") for c in contacts], now=clock.now
    )
    clock.run(journey)
    journey_pause(journey=journey, actor=OPERATOR)
    clock.advance(hours=2)
    assert clock.run(journey) == 0
    assert not Message.objects.exists()
    # Triggers while paused let nobody in.
    late = ContactFactory()
    result = events_record(events=[_event("cart_abandoned", late, "k", item="x")], now=clock.now)
    assert result.events[0]["journeys"] == []
    journey_resume(journey=journey, actor=OPERATOR)
    clock.run(journey)
    assert Message.objects.count() == 3
    journey_archive(journey=journey, actor=OPERATOR, mode="stop")
    assert set(JourneyEntry.objects.values_list("state", "exit_reason")) == {("done", "archived")}
    assert journey_status(journey=journey)["counts"]["exited"]["archived"] == 3


def test_a_new_version_takes_new_contacts_and_old_ones_finish_on_theirs(
    live_journey, cart_definition, clock
) -> None:
    from core.rules import OPERATOR
    from journeys.services import journey_activate, journey_entries_move, journey_update

    journey = live_journey(cart_definition)
    ana, bob = ContactFactory(), ContactFactory()
    events_record(events=[_event("cart_abandoned", ana, "k", item="x")], now=clock.now)
    edited = copy.deepcopy(cart_definition)
    edited["steps"][1]["text"] = "Version two"
    journey_update(journey=journey, definition=edited, actor=OPERATOR)
    journey_activate(journey=journey, actor=OPERATOR)
    events_record(events=[_event("cart_abandoned", bob, "k", item="x")], now=clock.now)
    clock.advance(hours=1, minutes=1)
    clock.run(journey)
    texts = dict(Message.objects.values_list("contact_id", "text"))
    assert texts[bob.pk] == "Version two"
    assert texts[ana.pk].startswith("Hi ")
    assert journey_entries_move(journey=journey, actor=OPERATOR) == 1
    assert set(JourneyEntry.objects.values_list("version__number", flat=True)) == {2}


def test_a_crash_mid_batch_loses_nothing_and_sends_nothing_twice(
    live_journey, clock, monkeypatch
) -> None:
    from journeys import engine

    journey = live_journey(_definition())
    contacts = [ContactFactory() for _ in range(5)]
    events_record(events=[_event("signed_up", c) for c in contacts], now=clock.now)

    def crash(plan):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(engine, "plan_write", crash)
    with pytest.raises(RuntimeError):
        clock.run(journey)
    assert not Message.objects.exists()  # the campaign rows went with the batch
    monkeypatch.undo()
    clock.run(journey)
    assert Message.objects.count() == 5
    assert clock.run(journey) == 0
    assert EntryStep.objects.filter(outcome="sent").count() == 5


def test_budget_cap_pauses_the_journey(live_journey, clock) -> None:
    from campaigns.models import Campaign
    from journeys.engine import journey_advance
    from journeys.models import Journey
    from journeys.services import journey_budget_pause

    journey = live_journey(_definition(max_spend="1.00", reentry="always"))
    ana = ContactFactory()
    Campaign.objects.filter(journey_step__version__journey=journey).update(cost_amount=2)
    events_record(events=[_event("signed_up", ana)], now=clock.now)
    result = journey_advance(journey_id=journey.pk, now=clock.now)
    assert result.budget_reason.startswith("budget cap reached")
    journey_budget_pause(journey_id=journey.pk, reason=result.budget_reason)
    journey = Journey.objects.get(pk=journey.pk)
    assert journey.state == "paused"
    assert "budget" in journey.state_reason
    assert not Message.objects.exists()
