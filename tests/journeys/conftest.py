"""Journey test fixtures: definitions, a journey switched on, simulated time."""

import copy
import datetime as dt

import pytest

from core.rules import OPERATOR
from tests.api.conftest import api_for, live_sandbox  # noqa: F401  (the API tests' fixtures)

ABANDONED_CART = {
    "name": "Abandoned cart",
    "trigger": {"type": "event", "event": "cart_abandoned"},
    "reentry": "once_per_key",
    "goal": {"event": "order_placed"},
    "steps": [
        {"id": "wait1", "type": "wait", "for": "PT1H"},
        {
            "id": "sms1",
            "type": "send",
            "channel": "sms",
            "text": "Hi {{first_name}}, your {{event.item}} is waiting: https://shop.example/c",
        },
        {
            "id": "wait2",
            "type": "wait_for",
            "event": "click",
            "timeout": "P1D",
            "then": "done",
            "else": "sms2",
        },
        {"id": "sms2", "type": "send", "channel": "sms", "text": "Last call: 10% off with CART10"},
        {"id": "done", "type": "exit"},
    ],
}


@pytest.fixture
def cart_definition() -> dict:
    return copy.deepcopy(ABANDONED_CART)


@pytest.fixture
def live_journey():
    """Create and activate a journey from a definition, as the operator."""
    from journeys.services import journey_activate, journey_create

    def make(definition: dict):
        journey = journey_create(definition=definition, actor=OPERATOR)
        journey_activate(journey=journey, actor=OPERATOR)
        journey.refresh_from_db()
        return journey

    return make


class Clock:
    """Simulated time for the engine: `run()` takes every due step as of `now`."""

    def __init__(self) -> None:
        from django.utils import timezone

        self.now = timezone.now()

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now

    def run(self, journey) -> int:
        from journeys.engine import journey_advance

        total = 0
        while (taken := journey_advance(journey_id=journey.pk, now=self.now).taken) > 0:
            total += taken
        return total


@pytest.fixture
def clock() -> Clock:
    return Clock()
