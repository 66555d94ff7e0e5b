"""A journey's conversions: what conversions/ credits to its send steps' messages, in its
status (total and per send step) and on the builder — through journeys.figures' registry."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Message
from conversions.services import conversions_record
from journeys.events import events_record
from journeys.services import journey_status
from tests.factories import ContactFactory
from tests.ui.conftest import make_user
from ui.roles import MARKETER

pytestmark = pytest.mark.django_db


def test_a_journeys_status_counts_its_conversions_per_send_step(
    live_journey, cart_definition, clock, client
) -> None:
    cart_definition["steps"][0]["for"] = "PT0S"  # send at once
    journey = live_journey(cart_definition)
    empty = journey_status(journey=journey)
    assert empty["conversions"] == {"count": 0, "revenue": "0.00", "currency": "EUR"}
    zero = {"count": 0, "revenue": "0.00"}
    assert [s.get("conversions") for s in empty["steps"]] == [None, zero, None, zero, None]
    ana = ContactFactory(phone="+447946000301", first_name="Ana")
    bob = ContactFactory(phone="+447946000302", first_name="Bob")
    for contact in (ana, bob):
        event = {
            "name": "cart_abandoned",
            "contact": {"phone": contact.phone},
            "key": "c1",
            "properties": {"item": "shoes"},
        }
        events_record(events=[event], now=clock.now)
    clock.run(journey)
    sent = timezone.now() - dt.timedelta(hours=1)
    Message.objects.filter(contact__in=[ana, bob]).update(
        state="delivered", created_at=sent, accepted_at=sent, done_at=sent
    )
    orders = [
        ("o-1", "59.90", ana.phone),
        ("o-2", "10.00", bob.phone),
        ("o-3", "5.00", "+447946000399"),
    ]
    result = conversions_record(
        items=[
            {"order_id": o, "value": v, "currency": "EUR", "contact": {"phone": p}}
            for o, v, p in orders
        ]
    )
    assert [r["attributed_to"]["journey"] for r in result.results[:2]] == [journey.pk] * 2
    status = journey_status(journey=journey)
    # The third order has no touch of this journey: not counted.
    assert status["conversions"] == {"count": 2, "revenue": "69.90", "currency": "EUR"}
    assert {s["id"]: s.get("conversions") for s in status["steps"]}["sms1"] == {
        "count": 2,
        "revenue": "69.90",
    }
    # The builder shows them: the journey's totals and the send step's counts.
    client.force_login(make_user("mia", MARKETER))
    page = client.get(f"/journeys/{journey.pk}/").content.decode()
    assert "<strong>2</strong> converted (69.90 EUR)" in page
    assert page.count("converted (") == 3  # the totals and the sms1 card (sms2: 0 converted)
    out = io.StringIO()
    call_command("journey", "status", str(journey.pk), stdout=out)
    assert "conversions=2 revenue=69.90 EUR" in out.getvalue()
    assert "sms1             send      entered=2" in out.getvalue()
