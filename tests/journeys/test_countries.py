"""Journey send steps and countries' rules: senders per country, DLT ids, refusals at send."""

import copy
import json

import pytest
import responses

from campaigns.models import Message
from campaigns.sending import campaign_send_batch
from channels.senders import sender_save
from core.rules import OPERATOR
from journeys.events import events_record
from journeys.spec import definition_check
from tests.factories import ContactFactory
from tests.fixtures.provider import BASE_URL, sent_bodies

pytestmark = pytest.mark.django_db

WELCOME = {
    "name": "Welcome",
    "trigger": {"type": "event", "event": "signed_up"},
    "steps": [
        {
            "id": "hello",
            "type": "send",
            "channel": "sms",
            "sender": "auto",
            "text": "Welcome {{first_name}}",
            "dlt_template_id": "1107160000000001",
        }
    ],
}


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


def test_a_send_steps_regional_fields_are_checked_by_path() -> None:
    bad = copy.deepcopy(WELCOME)
    bad["steps"][0].update(dlt_template_id="12 34", iys_recipient_type="X", kr_title="t" * 67)
    problems = definition_check(bad)
    assert any(p.startswith("steps[0].dlt_template_id") for p in problems)
    assert any(p.startswith("steps[0].iys_recipient_type") for p in problems)
    assert any(p.startswith("steps[0].kr_title") for p in problems)
    assert definition_check(WELCOME) == []


def test_a_journey_send_goes_from_indias_sender_with_dlt_or_is_skipped_with_the_reason(
    live_journey, clock, provider_mocked, settings
) -> None:
    settings.HERALD_COUNTRY_QUIET_HOURS = False
    provider_mocked.add_callback(responses.POST, BASE_URL + "/sms/3/messages", callback=_accept_all)
    journey = live_journey(copy.deepcopy(WELCOME))
    asha = ContactFactory(phone="+919812345670", country="IN", timezone="Asia/Kolkata")
    events_record(events=[{"name": "signed_up", "contact": {"phone": asha.phone}}], now=clock.now)
    clock.run(journey)
    first = Message.objects.get(contact=asha)
    campaign_send_batch(campaign_id=first.campaign_id)
    first.refresh_from_db()
    assert first.state == "skipped"
    assert "DLT principal entity" in first.reason  # India has no sender with its entity yet
    assert not sent_bodies(provider_mocked, "/sms/3/messages")

    sender_save(channel="sms", country="IN", sender="HERALD", dlt_entity_id="1101", actor=OPERATOR)
    ravi = ContactFactory(phone="+919812345671", country="IN", timezone="Asia/Kolkata")
    events_record(events=[{"name": "signed_up", "contact": {"phone": ravi.phone}}], now=clock.now)
    clock.run(journey)
    campaign_send_batch(campaign_id=first.campaign_id)
    assert Message.objects.get(contact=ravi).state == "accepted"
    [body] = sent_bodies(provider_mocked, "/sms/3/messages")
    [entry] = body["messages"]
    assert entry["sender"] == "HERALD"
    assert entry["options"]["regional"] == {
        "indiaDlt": {"principalEntityId": "1101", "contentTemplateId": "1107160000000001"}
    }
