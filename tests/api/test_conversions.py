"""`/api/v1/conversions` and the split test through the API (PostgreSQL: the set-based SQL)."""

import datetime as dt

import pytest
from django.utils import timezone

from api.models import EventDelivery, EventSubscription
from campaigns.models import Campaign, Message, SplitTest
from conversions.models import Conversion
from tests.api.conftest import ALL_SCOPES
from tests.factories import CampaignFactory, ContactFactory, MessageFactory, make_audience

pytestmark = pytest.mark.django_db
SCOPES = [*ALL_SCOPES, "conversions:write"]


def _delivered(contact, hours_ago: float = 2) -> Message:
    at = timezone.now() - dt.timedelta(hours=hours_ago)
    message = MessageFactory(
        campaign=CampaignFactory(state="completed"), contact=contact, state="delivered"
    )
    Message.objects.filter(pk=message.pk).update(
        created_at=at, claimed_at=at, accepted_at=at, done_at=at
    )
    return message


def test_a_conversion_is_recorded_once_explained_and_sent_as_an_event(api_for, sender_user):
    api = api_for(sender_user, SCOPES)
    EventSubscription.objects.create(
        url="http://127.0.0.1:9/x", events=["conversion.attributed"], secret="whsec_dGVzdA=="
    )
    contact = ContactFactory()
    message = _delivered(contact)
    body = {
        "order_id": "1042",
        "contact": {"phone": contact.phone},
        "value": "59.90",
        "currency": "EUR",
        "occurred_at": timezone.now().isoformat(),
    }
    first = api.post("conversions", body, execute=False)
    assert first.status_code == 201, first.content
    answer = first.json()
    assert answer["created"]
    assert answer["value"] == "59.90"
    assert answer["attributed_to"]["message_id"] == str(message.message_id)
    assert answer["attributed_to"]["touch"] == "delivered"
    again = api.post("conversions", body | {"value": "1.00"}, execute=False)
    assert again.status_code == 200
    assert not again.json()["created"]
    assert again.json()["value"] == "59.90"
    explained = api.get("conversions/1042")
    assert explained.status_code == 200
    assert explained.json()["reason"].startswith(f"credited to message {message.message_id}")
    event = EventDelivery.objects.get(event_type="conversion.attributed")
    assert event.payload["order_id"] == "1042"
    assert event.dedupe_key == "conversion.attributed:conversion:1042"


def test_a_batch_records_the_good_and_names_the_bad(api_for, sender_user):
    api = api_for(sender_user, SCOPES)
    items = [{"order_id": f"o{i}", "value": "5"} for i in range(300)]
    items[7] = {"order_id": "bad", "value": "five"}
    response = api.post("conversions", {"conversions": items}, execute=False)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["created"] == 299
    assert data["duplicates"] == 0
    assert data["rejected"] == [
        {"index": 7, "reason": 'value: a decimal amount such as "59.90"', "field": "value"}
    ]
    assert Conversion.objects.count() == 299


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"value": "5"}, 400, "order_id"),
        ({"order_id": "x", "contact": {"phone": "abc"}}, 400, "contact"),
        ({"order_id": "x", "occurred_at": "2026-13-45"}, 400, "occurred_at"),
        ({"conversions": "nope"}, 400, "conversions"),
        ([1, 2], 400, "body"),
    ],
)
def test_bad_bodies_get_the_one_error_shape(api_for, sender_user, body, status, field):
    response = api_for(sender_user, SCOPES).post("conversions", body)
    assert response.status_code == status
    error = response.json()["error"]
    assert field in error["fields"]
    assert error["message"]
    assert not Conversion.objects.exists()


def test_scopes_and_unknown_orders(api_for, sender_user):
    reader = api_for(sender_user, ["read"])
    assert reader.post("conversions", {"order_id": "1"}).status_code == 403
    assert reader.get("conversions/nope").status_code == 404
    hostile = reader.get("conversions/a%00b")  # refused before any query (a NUL in the path)
    assert hostile.status_code == 400
    assert hostile.json()["error"]["message"]


def test_a_split_campaign_is_created_and_reported_through_the_api(api_for, sender_user):
    api = api_for(sender_user, SCOPES)
    make_audience(10, name="demo")
    body = {
        "name": "spring",
        "channel": "sms",
        "lists": ["demo"],
        "variants": [
            {"name": "A", "text": "Hi {{first_name}}"},
            {"name": "B", "text": "Hello {{first_name}}", "coupon": "SPRING-B"},
        ],
        "test": {"share": 20, "holdout": 5, "winner_by": "clicks", "decide_after": "PT4H"},
    }
    response = api.post("campaigns", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["text"] == "Hi {{first_name}}"
    assert [v["name"] for v in created["variants"]] == ["A", "B"]
    assert created["test"] == {
        "share": 20,
        "holdout": 5,
        "winner_by": "clicks",
        "decide_after": "PT4H",
        "if_undecided": "leader",
    }
    status = api.get(f"campaigns/{created['id']}").json()
    assert [v["name"] for v in status["variants"]] == ["A", "B"]
    assert status["winner"] is None
    assert status["split"]["state"] == "planned"
    assert status["conversions"]["count"] == 0
    assert status["holdout"]["recipients"] == 0
    bad = api.post("campaigns", body | {"name": "x", "test": {"share": 90, "holdout": 20}})
    assert bad.status_code == 400
    assert "more than 100" in bad.json()["error"]["message"]
    patched = api.call("PATCH", f"campaigns/{created['id']}", {"test": None, "variants": []})
    assert patched.status_code == 200, patched.content
    assert not SplitTest.objects.filter(campaign_id=created["id"]).exists()
    assert Campaign.objects.count() == 1
