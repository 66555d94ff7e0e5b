"""The engine, step by step on PostgreSQL with simulated time (no worker)."""

import pytest

from campaigns.models import Message
from journeys.events import events_record
from journeys.models import EntryStep, JourneyEntry
from journeys.services import journey_status
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _event(name, phone, key="", **properties):
    return {"name": name, "contact": {"phone": phone}, "key": key, "properties": properties}


def test_abandoned_cart_runs_each_step_once(live_journey, cart_definition, clock) -> None:
    journey = live_journey(cart_definition)
    ana = ContactFactory(phone="+447946000101", first_name="Ana")
    result = events_record(
        events=[_event("cart_abandoned", ana.phone, "cart-1", item="shoes")], now=clock.now
    )
    assert result.events[0]["journeys"] == [{"id": journey.pk, "entered": True}]
    clock.run(journey)
    entry = JourneyEntry.objects.get(journey=journey)
    assert (entry.step, entry.phase) == ("wait1", "waiting")
    clock.advance(minutes=59)
    assert clock.run(journey) == 0
    clock.advance(minutes=2)
    clock.run(journey)
    message = Message.objects.get(contact=ana)
    assert message.text == "Hi Ana, your shoes is waiting: https://shop.example/c"
    entry.refresh_from_db()
    assert (entry.step, entry.wait_event, entry.last_message) == ("wait2", "click", message.pk)
    clock.advance(days=1, minutes=1)
    clock.run(journey)
    entry.refresh_from_db()
    assert (entry.state, entry.exit_reason) == ("done", "completed")
    steps = list(EntryStep.objects.filter(entry=entry).values_list("step_id", "outcome"))
    assert steps == [
        ("wait1", "waited"),
        ("sms1", "sent"),
        ("wait2", "else"),
        ("sms2", "sent"),
        ("done", "exited"),
    ]
    status = journey_status(journey=journey)
    assert status["counts"] == {
        "entered": 1,
        "active": 0,
        "exited": {"completed": 1, "goal": 0, "opted_out": 0, "archived": 0, "stopped": 0},
    }
    assert [s["sent"] for s in status["steps"] if s["id"].startswith("sms")] == [1, 1]
