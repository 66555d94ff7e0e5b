"""Viber and RCS: bodies valid against the Messages API document, the sandbox speaking it, and
campaigns, transactional sends, reports (pulled), inbound and replies on both."""

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from campaigns.models import Campaign, Message
from campaigns.preview import campaign_preview
from campaigns.reports import reports_reconcile
from campaigns.services import campaign_create, campaign_launch
from channels.base import Button, Content, Outbound
from channels.registry import channel_type
from core.rules import OPERATOR
from infobip.bodies import messages_api_request_body
from infobip.client import InfobipClient
from infobip.openapi import validate_request, webhook_validator
from infobip.types import MessagesApiButton, MessagesApiMessage
from tests.campaigns.conftest import make_audience

pytestmark = pytest.mark.django_db


def _outbound(**content) -> Outbound:
    return Outbound(
        to="447946000001",
        message_id="m-1",
        text=content.get("text", ""),
        sender="Herald",
        notify_url="https://herald.example/infobip/webhooks/t/messages/reports/",
        callback_data="herald:campaign=1",
        validity_minutes=60,
        content=Content(**content),
    )


@pytest.mark.parametrize(
    ("channel", "content"),
    [
        ("viber", {"text": "Hi Ann"}),
        ("viber", {"text": "New in", "media_url": "https://example.com/a.jpg",
                   "buttons": (Button("Shop", url="https://example.com/shop"),)}),
        ("rcs", {"text": "Hi Ann", "buttons": (Button("Yes", postback="yes"),
                                               Button("Open", url="https://example.com"))}),
        ("rcs", {"media_url": "https://example.com/a.jpg"}),
    ],
)  # fmt: skip
def test_viber_and_rcs_bodies_are_valid_against_the_messages_api_document(channel, content) -> None:
    kind = channel_type(channel)
    message = kind.message(_outbound(**content))
    body = messages_api_request_body([message], bulk_id="b-1", tracking=None)
    assert validate_request("POST", "/messages-api/1/messages", body) == []
    entry = body["messages"][0]
    assert entry["channel"] == kind.infobip_channel
    assert entry["destinations"] == [{"to": "447946000001", "messageId": "m-1"}]
    assert entry["options"]["validityPeriod"] == {"amount": 60, "timeUnit": "MINUTES"}
    assert entry["webhooks"]["delivery"]["url"].endswith("/messages/reports/")


def test_identical_messages_share_one_entry() -> None:
    messages = [
        MessagesApiMessage(
            channel="RCS",
            to=f"44794600000{i}",
            sender="agent",
            message_id=f"m-{i}",
            text="Same",
            buttons=(MessagesApiButton("Ok"),),
        )
        for i in range(3)
    ]
    body = messages_api_request_body(messages)
    assert len(body["messages"]) == 1
    assert [d["messageId"] for d in body["messages"][0]["destinations"]] == ["m-0", "m-1", "m-2"]


def test_what_each_type_refuses() -> None:
    viber, rcs = channel_type("viber"), channel_type("rcs")
    assert viber.content_problems(Content(text="x" * 1001)) == [
        "Viber text is 1,001 characters; the limit is 1,000"
    ]
    assert viber.content_problems(
        Content(text="Hi", buttons=(Button("A", url="https://a.example"), Button("B")))
    ) == ["Viber takes at most 1 button", "button 'B': Viber buttons open a link"]
    assert rcs.content_problems(Content(text="Hi", media_url="http://insecure.example/a.jpg")) == [
        "the image needs an https:// URL"
    ]
    assert channel_type("sms").content_problems(
        Content(text="Hi", media_url="https://example.com/a.jpg")
    ) == ["SMS messages cannot carry an image"]
    assert rcs.content_problems(Content(media_url="https://example.com/a.jpg")) == []


def test_the_sandbox_speaks_the_messages_api(sandbox) -> None:
    api = InfobipClient(sandbox.url, sandbox.api_key, backoff_factor=0, max_retries=0)
    kind = channel_type("viber")
    sent = api.send_messages(
        [
            kind.message(_outbound(text="Hi")),
            kind.message(
                Outbound(
                    to="447946000002",
                    message_id="m-2",
                    text="Hi",
                    sender="Herald",
                    notify_url="",
                    content=Content(text="Hi"),
                )
            ),
        ],
        bulk_id="viber-bulk",
    )
    assert sent.bulk_id == "viber-bulk"
    assert {m.message_id: m.to for m in sent.messages} == {
        "m-1": "447946000001",
        "m-2": "447946000002",
    }
    assert {m.status.group_name for m in sent.messages} == {"PENDING"}
    assert sandbox.flush() == 0
    assert api.get_messages_api_reports(channel="RCS") == []
    reports = api.get_messages_api_reports(channel="VIBER_BM")
    assert sorted(r.message_id for r in reports) == ["m-1", "m-2"]
    for report in reports:
        assert report.channel == "VIBER_BM"
        assert report.status.name == sandbox.truth(report.message_id)["status"]
        assert webhook_validator("messages-api", "receive-messages-api-delivery-reports").is_valid(
            {"results": [report.raw]}
        )
    assert api.get_messages_api_reports(channel="VIBER_BM") == []  # each once
    assert sandbox.state()["acceptedByChannel"] == {"VIBER_BM": 2}


def test_the_sandbox_refuses_a_body_the_spec_refuses(sandbox) -> None:
    from infobip.errors import InfobipValidationError

    api = InfobipClient(sandbox.url, sandbox.api_key, backoff_factor=0, max_retries=0)
    no_content = {"messages": [{"channel": "VIBER_BM", "destinations": [{"to": "1"}]}]}
    with pytest.raises(InfobipValidationError) as refused:
        api.custom_request("POST", "/messages-api/1/messages", body=no_content)
    assert [v.property for v in refused.value.violations] == ["messages[0]"]
    # A TEXT body without its text: the discriminated schema says so (as Infobip would).
    no_text = {
        "messages": [
            {"channel": "RCS", "destinations": [{"to": "1"}], "content": {"body": {"type": "TEXT"}}}
        ]
    }
    with pytest.raises(InfobipValidationError):
        api.custom_request("POST", "/messages-api/1/messages", body=no_text)
    assert sandbox.state()["accepted"]["total"] == 0


def _launch(campaign: Campaign, capture) -> Campaign:
    with capture(execute=True):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    campaign.refresh_from_db()
    return campaign


@pytest.mark.parametrize("channel", ["viber", "rcs"])
def test_a_campaign_is_sent_once_and_reconciled_from_pulled_reports(
    channel, live_sandbox, django_capture_on_commit_callbacks
) -> None:
    live_sandbox.configure(outcomes={"delivered": 0.7, "undeliverable": 0.3})
    campaign = campaign_create(
        name=channel,
        channel=channel,
        lists=[make_audience(12)],
        text="Hi {{first_name}}",
        media_url="https://example.com/offer.jpg",
        buttons=[{"text": "Shop", "url": "https://example.com/shop"}],
    )
    preview = campaign_preview(campaign=campaign)
    assert preview["messages"] == 12
    # Priced per message from HERALD_PRICES (UK numbers: 0.03 each on both defaults).
    assert preview["cost"]["amount"] == "0.3600"
    campaign = _launch(campaign, django_capture_on_commit_callbacks)
    assert campaign.count_accepted == 12
    rows = Message.objects.filter(campaign=campaign)
    assert {m.channel for m in rows} == {channel_type(channel).ledger}
    # Webhooks point at a host nobody listens on here: the reports come by pull.
    assert live_sandbox.flush() == 0
    with django_capture_on_commit_callbacks(execute=True):
        swept = reports_reconcile()
    assert swept.pulled_other[channel_type(channel).infobip_channel] == 12
    assert sum(swept.pulled_other.values()) == 12
    for message in rows:
        truth = live_sandbox.truth(str(message.message_id))
        message.refresh_from_db()
        assert message.state == truth["outcome"], (message.phone, truth)
        assert truth["copies"] == 1
    state = live_sandbox.state()
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}


def test_a_too_long_viber_text_is_refused_at_create() -> None:
    with pytest.raises(ValidationError, match="limit is 1,000"):
        campaign_create(name="v", channel="viber", lists=[make_audience(1)], text="x" * 1001)


def _mo(channel: str, text: str, *, kind: str = "TEXT", message_id: str = "mo-1") -> dict:
    item = {
        "event": "MO",
        "channel": channel,
        "sender": "447946000001",
        "destination": "Herald",
        "content": [
            {
                "type": kind,
                "text": text,
                **({"cleanText": text} if kind == "TEXT" else {"payload": "yes"}),
            }
        ],
        "receivedAt": "2026-11-21T10:00:00.000+0000",
        "messageId": message_id,
        "messageCount": 1,
    }
    return {"results": [item]}


@pytest.mark.parametrize(("channel", "medium"), [("VIBER_BM", "viber"), ("RCS", "rcs")])
def test_inbound_viber_and_rcs_reach_the_inbox_and_stop_is_confirmed_there(
    post, live_sandbox, channel, medium
) -> None:
    from contacts.models import Contact
    from infobip.models import InboundMessage

    body = _mo(channel, "STOP")
    assert webhook_validator("messages-api", "receive-messages-api-incoming-messages").is_valid(
        body
    )
    assert post("messages/inbound", body).status_code == 200
    inbound = InboundMessage.objects.get()
    assert (inbound.channel, inbound.from_number, inbound.to_number) == (
        medium,
        "447946000001",
        "Herald",
    )
    contact = Contact.objects.get(phone="+447946000001")
    assert contact.opted_out is True
    inbound.refresh_from_db()
    assert (inbound.keyword_action, inbound.reply_status) == ("opt_out", "sent")
    # The confirmation went back on the same channel, from the sender they wrote to.
    assert live_sandbox.state()["acceptedByChannel"] == {channel: 1}
    truth = live_sandbox.truth(inbound.reply_message_id)
    assert (truth["channel"], truth["sender"], truth["to"]) == (channel, "Herald", "447946000001")


def test_a_button_tap_is_an_inbound_text(post) -> None:
    from infobip.models import InboundMessage

    post("messages/inbound", _mo("RCS", "Yes please", kind="BUTTON_REPLY"))
    inbound = InboundMessage.objects.get()
    assert (inbound.channel, inbound.message_type, inbound.text) == (
        "rcs",
        "INTERACTIVE_BUTTON_REPLY",
        "Yes please",
    )


def test_a_conversation_reply_goes_out_on_viber(
    live_sandbox, django_capture_on_commit_callbacks
) -> None:
    from django.contrib.auth.models import User

    from contacts.models import Contact
    from inbox.conversations import conversation_reply, reply_options

    contact = Contact.objects.create(phone="+447946000009")
    assert {o["medium"]: o["open"] for o in reply_options(contact)} == {
        "sms": True,
        "whatsapp": False,
        "viber": True,
        "rcs": True,
    }
    user = User.objects.create_superuser("root", password="x-long-password-42")
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(contact=contact, channel="viber", text="On its way", actor=user)
    assert reply.channel == "viber"
    assert reply.campaign.channel == "viber"  # through the ledger
    truth = live_sandbox.truth(reply.message_id)
    assert (truth["channel"], truth["sender"]) == ("VIBER_BM", "Herald")


def test_the_command_line_creates_a_viber_campaign_with_an_image_and_a_button() -> None:
    import json

    from django.core.management import call_command

    make_audience(1, name="fans")
    out = StringIO()
    call_command(
        "campaign",
        "create",
        "--name",
        "v",
        "--list",
        "fans",
        "--channel",
        "viber",
        "--text",
        "New in",
        "--image",
        "https://example.com/a.jpg",
        "--button",
        "Shop=https://example.com/shop",
        "--json",
        stdout=out,
    )
    campaign = Campaign.objects.get(pk=json.loads(out.getvalue())["id"])
    assert (campaign.channel, campaign.media_url) == ("viber", "https://example.com/a.jpg")
    assert campaign.buttons == [{"text": "Shop", "url": "https://example.com/shop"}]
    with pytest.raises(CommandError, match="at most 1 button"):
        call_command(
            "campaign",
            "create",
            "--name",
            "v2",
            "--list",
            "fans",
            "--channel",
            "viber",
            "--text",
            "Hi",
            "--button",
            "A=https://a.example",
            "--button",
            "B=https://b.example",
        )
