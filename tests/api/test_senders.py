"""The API's senders per country and regional fields: scopes, roles, bad input, sends."""

import json

import pytest
import responses

from channels.models import Sender
from tests.api.conftest import make_user
from tests.fixtures.provider import BASE_URL, sent_bodies

pytestmark = pytest.mark.django_db

INDIA = {"channel": "sms", "country": "IN", "sender": "HERALD", "dlt_entity_id": "1101"}


def test_writing_senders_needs_the_scope_and_the_sender_role(api_for, sender_user) -> None:
    read_only = api_for(sender_user, ["read"])
    answer = read_only.post("senders", INDIA)
    assert answer.status_code == 403
    assert "senders:write" in answer.json()["error"]["message"]
    marketer = make_user("mia", "Marketer")
    as_marketer = api_for(marketer)
    assert as_marketer.get("senders").status_code == 200  # Marketers see them
    refused = as_marketer.post("senders", INDIA)
    assert refused.status_code == 403
    assert "add senders" in refused.json()["error"]["message"]
    assert not Sender.objects.exists()
    assert api_for(sender_user).post("senders", INDIA).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**INDIA, "country": "India"}, "country"),
        ({**INDIA, "channel": "pigeon"}, "channel"),
        ({**INDIA, "country": "US", "sender": "Shop"}, "sender"),
        ({**INDIA, "kr_reseller_code": 12}, "kr_reseller_code"),
        ({**INDIA, "dlt_entity_id": "11\x0001"}, "dlt_entity_id"),
        ({"channel": "sms", "country": "IN"}, "sender"),
    ],
)
def test_bad_senders_get_400_naming_the_field(api_for, sender_user, body, field) -> None:
    answer = api_for(sender_user).post("senders", body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["error"]["fields"]
    assert not Sender.objects.exists()


def test_listing_by_an_unknown_channel_is_a_400_and_a_missing_sender_a_404(
    api_for, sender_user
) -> None:
    api = api_for(sender_user)
    assert api.get("senders?channel=pigeon").status_code == 400
    assert api.get("senders/999").status_code == 404
    assert api.call("DELETE", "senders/999").status_code == 404


def _accept_all(request):
    body = json.loads(request.body)
    messages = [
        {
            "messageId": d["messageId"],
            "destination": d["to"],
            "status": {
                "groupId": 1,
                "groupName": "PENDING",
                "id": 26,
                "name": "PENDING_ACCEPTED",
                "description": "Message sent to next instance",
            },
        }
        for m in body["messages"]
        for d in m["destinations"]
    ]
    return 200, {}, json.dumps({"bulkId": "b", "messages": messages})


def test_a_transactional_send_routes_each_number_and_skips_what_india_would_refuse(
    api_for, sender_user, provider_mocked, settings
) -> None:
    settings.HERALD_COUNTRY_QUIET_HOURS = False  # the US number may be at night: not the point
    provider_mocked.add_callback(responses.POST, BASE_URL + "/sms/3/messages", callback=_accept_all)
    api = api_for(sender_user)
    api.post("senders", {"channel": "sms", "country": "US", "sender": "+12025550100"})
    to = ["+12025550123", "+919812345670", "+447946000001"]
    answer = api.post("messages", {"channel": "sms", "to": to, "text": "Your code is 1234"})
    assert answer.status_code == 202, answer.content
    states = {m["to"]: (m["state"], m.get("reason", "")) for m in answer.json()["messages"]}
    assert states["+919812345670"][0] == "skipped"
    assert "DLT principal entity" in states["+919812345670"][1]
    [body] = sent_bodies(provider_mocked, "/sms/3/messages")
    senders = {d["to"]: e.get("sender") for e in body["messages"] for d in e["destinations"]}
    assert senders == {"12025550123": "+12025550100", "447946000001": "Herald"}

    api.post("senders", INDIA)
    body = {
        "channel": "sms",
        "sender": "auto",
        "to": ["+919812345670"],
        "text": "Your code is 1234",
        "dlt_template_id": "1107",
    }
    answer = api.post("messages", body)
    assert answer.json()["messages"][0]["state"] == "queued"
    sent = sent_bodies(provider_mocked, "/sms/3/messages")[-1]["messages"][0]
    assert sent["options"]["regional"] == {
        "indiaDlt": {"principalEntityId": "1101", "contentTemplateId": "1107"}
    }


def test_a_campaign_takes_its_regional_settings_and_excluded_countries(
    api_for, sender_user
) -> None:
    api = api_for(sender_user)
    api.post("lists", {"name": "world"})
    created = api.post(
        "campaigns",
        {
            "name": "spring",
            "channel": "sms",
            "sender": "auto",
            "text": "Hi",
            "lists": ["world"],
            "dlt_template_id": "1107",
            "exclude_countries": ["in", "US"],
            "kr_title": "Spring",
        },
    )
    assert created.status_code == 201, created.content
    campaign = created.json()
    assert campaign["sender"] == ""
    assert campaign["exclude_countries"] == ["IN", "US"]
    assert campaign["dlt_template_id"] == "1107"
    bad = api.call("PATCH", f"campaigns/{campaign['id']}", {"exclude_countries": ["XX"]})
    assert bad.status_code == 400
    assert "exclude_countries" in bad.json()["error"]["fields"]
    fixed = api.call(
        "PATCH", f"campaigns/{campaign['id']}", {"iys_recipient_type": "TACIR", "sender": "auto"}
    )
    assert fixed.json()["iys_recipient_type"] == "TACIR"
    preview = api.get(f"campaigns/{campaign['id']}/preview").json()
    assert preview["compliance"] == []
    assert preview["exclude_countries"] == ["IN", "US"]
