"""Tracked links and validity reach Infobip in bodies its OpenAPI documents accept."""

import json
import uuid

import pytest
import responses
from django.utils import timezone

from campaigns.link_tokens import link_token
from campaigns.services import campaign_create, campaign_launch
from contacts.models import Contact
from core.rules import OPERATOR
from infobip import bodies
from infobip.links import webhook_url
from infobip.types import SmsMessage, WhatsAppTemplateMessage
from tests.campaigns.conftest import make_audience
from tests.fixtures.provider import BASE_URL, sent_bodies, spec_problems

pytestmark = pytest.mark.django_db

TRACKING = bodies.url_options(tracking_url="https://h.example/clicks/", custom_domain="go.ex")
BODIES = {
    "sms tracked with validity": (
        "POST", "/sms/3/messages",
        bodies.sms_request_body(
            [SmsMessage(to="447946000001", text="See https://ex.com", message_id="m1",
                        validity_period_minutes=90)],
            tracking=TRACKING,
        ),
    ),
    "whatsapp text with preview and tracking": (
        "POST", "/whatsapp/1/message/text",
        bodies.whatsapp_text_request_body(sender="447860099299", to="447946000001",
                                          text="See https://ex.com", message_id="m2",
                                          preview_url=True, url_options=TRACKING),
    ),
    "whatsapp template with tracking": (
        "POST", "/whatsapp/1/message/template",
        bodies.whatsapp_template_request_body([WhatsAppTemplateMessage(
            to="447946000001", sender="447860099299", template_name="promo", language="en",
            message_id="m3", body_placeholders=["Ann"], url_options=TRACKING)]),
    ),
    "whatsapp image with caption": (
        "POST", "/whatsapp/1/message/image",
        bodies.whatsapp_image_request_body(sender="447860099299", to="447946000001",
                                           media_url="https://ex.com/a.png", caption="New!",
                                           message_id="m4", url_options=TRACKING),
    ),
    "whatsapp reply buttons": (
        "POST", "/whatsapp/1/message/interactive/buttons",
        bodies.whatsapp_buttons_request_body(sender="447860099299", to="447946000001",
                                             text="Coming?", buttons=[("yes", "Yes"), ("no", "No"),
                                                                      ("later", "Later")],
                                             message_id="m5", header_text="RSVP", footer="Herald"),
    ),
    "sms inbound forwarding with keyword": (
        "POST", "/resource-management/1/inbound-message-configurations",
        bodies.inbound_configuration_body(channel="sms", number="447860099299",
                                          url="https://h.example/in/", keyword="PROMO"),
    ),
    "whatsapp inbound forwarding": (
        "POST", "/resource-management/1/inbound-message-configurations",
        bodies.inbound_configuration_body(channel="whatsapp", number="447860099299",
                                          url="https://h.example/in/"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", BODIES)
def test_every_feature_body_satisfies_the_openapi_documents(name) -> None:
    method, path, body = BODIES[name]
    assert spec_problems(method, path, json.dumps(body)) == []


def test_the_spec_rejects_what_herald_refuses() -> None:
    """The validators are live: four buttons and a forward without URL fail the spec."""
    four = bodies.whatsapp_buttons_request_body(
        sender="1", to="2", text="x", buttons=[(str(i), "B") for i in range(4)], message_id="m"
    )
    problems = spec_problems("POST", "/whatsapp/1/message/interactive/buttons", json.dumps(four))
    assert any(p.property == "content.action.buttons" for p in problems)
    no_url = {"channel": "SMS", "number": "1", "forwarding": {"type": "HTTP_FORWARD"}}
    path = "/resource-management/1/inbound-message-configurations"
    assert spec_problems("POST", path, json.dumps(no_url))


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


def test_sms_campaign_sends_tracked_links_and_its_validity(
    provider_mocked, settings, django_capture_on_commit_callbacks
) -> None:
    settings.INFOBIP_SHORT_DOMAIN = "go.example.com"
    provider_mocked.add_callback(responses.POST, BASE_URL + "/sms/3/messages", callback=_accept_all)
    audience = make_audience(3)
    campaign = campaign_create(
        name="links",
        channel="sms",
        lists=[audience],
        text="Sale: https://shop.example/spring",
        track_links=True,
        sms_validity_minutes=120,
    )
    with django_capture_on_commit_callbacks(execute=True):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    [body] = sent_bodies(provider_mocked, "/sms/3/messages")
    assert body["options"]["tracking"] == {
        "shortenUrl": True,
        "trackClicks": True,
        "trackingUrl": webhook_url("clicks"),
        "customDomain": "go.example.com",
    }
    # Each link carries its message's conversion token (campaigns.link_tokens), so each text
    # is its own entry; Infobip shortens the links, so no SMS gets longer.
    entries = body["messages"]
    assert [e["options"]["validityPeriod"] for e in entries] == [
        {"amount": 120, "timeUnit": "MINUTES"}
    ] * 3
    for entry in entries:
        [destination] = entry["destinations"]
        token = link_token(uuid.UUID(destination["messageId"]))
        assert entry["content"]["text"] == f"Sale: https://shop.example/spring?hrd={token}"
    campaign.refresh_from_db()
    assert campaign.count_accepted == 3
    # Estimate snapshot at launch: 3 × one UK part at the configured price.
    uk = settings.HERALD_PRICES["sms"]["44"]
    assert f"{campaign.estimated_cost:.4f}" == f"{3 * float(uk):.4f}"


def test_untracked_campaign_asks_for_no_tracking(
    provider_mocked, django_capture_on_commit_callbacks
) -> None:
    provider_mocked.add_callback(responses.POST, BASE_URL + "/sms/3/messages", callback=_accept_all)
    campaign = campaign_create(name="plain", channel="sms", lists=[make_audience(2)], text="Hi")
    with django_capture_on_commit_callbacks(execute=True):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    [body] = sent_bodies(provider_mocked, "/sms/3/messages")
    assert "tracking" not in body["options"]
    assert "options" not in body["messages"][0]


def test_whatsapp_text_campaign_previews_and_tracks_links_inside_the_window(
    provider_mocked, django_capture_on_commit_callbacks
) -> None:
    def accept(request):
        body = json.loads(request.body)
        return (
            200,
            {},
            json.dumps(
                {
                    "to": body["to"],
                    "messageCount": 1,
                    "messageId": body["messageId"],
                    "status": {
                        "groupId": 1,
                        "groupName": "PENDING",
                        "id": 7,
                        "name": "PENDING_ENROUTE",
                    },
                }
            ),
        )

    provider_mocked.add_callback(
        responses.POST, BASE_URL + "/whatsapp/1/message/text", callback=accept
    )
    audience = make_audience(3)
    Contact.objects.filter(phone__endswith="00001").update(whatsapp_last_inbound_at=timezone.now())
    campaign = campaign_create(
        name="wa",
        channel="whatsapp_text",
        lists=[audience],
        text="Menu: https://ex.com/menu",
        track_links=True,
        whatsapp_validity_minutes=60,
    )
    with django_capture_on_commit_callbacks(execute=True):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    [body] = sent_bodies(provider_mocked, "/whatsapp/1/message/text")
    assert body["to"] == "447946000001"
    token = link_token(uuid.UUID(body["messageId"]))
    assert body["content"] == {"text": f"Menu: https://ex.com/menu?hrd={token}", "previewUrl": True}
    assert body["urlOptions"]["trackingUrl"] == webhook_url("clicks")
    assert "validityPeriod" not in json.dumps(body)  # WhatsApp has none: Herald enforces it
    campaign.refresh_from_db()
    assert (campaign.count_accepted, campaign.count_skipped) == (1, 2)
