"""Every push example Infobip publishes goes through the real view, is processed and applied."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from campaigns.clicks import campaign_click_counts
from campaigns.models import Message, MessageEvent
from contacts.models import Contact
from infobip.models import Click, EventStatus, InboundMessage, PendingReport, WebhookEvent
from tests.infobip.webhooks.conftest import PUSH_EXAMPLES, counts, example, make_ledger
from whatsapp.models import WhatsAppTemplate

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def _with_ids(body: dict, messages: list[Message]) -> dict:
    for item, message in zip(body["results"], messages, strict=True):
        item["messageId"] = str(message.message_id)
    return body


@pytest.mark.parametrize("name", sorted(PUSH_EXAMPLES))
def test_every_published_push_example_is_accepted_and_processed(post, name) -> None:
    response = post(PUSH_EXAMPLES[name], example(name))
    assert response.status_code == 200, response.content
    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.PROCESSED, event.error
    assert event.error == ""


@pytest.mark.parametrize(
    ("name", "kind", "channel"),
    [
        ("sms_dlr_push_v3", "sms/reports", "sms"),
        ("sms_dlr_push_v2", "sms/reports", "sms"),
    ],
)
def test_sms_report_examples_move_the_ledger(post, name, kind, channel) -> None:
    campaign, messages = make_ledger(2, channel=channel)
    assert post(kind, _with_ids(example(name), messages)).status_code == 200
    assert counts(campaign) == {"delivered": 2}
    assert campaign.cost_amount == Decimal("0.0200")
    assert campaign.cost_currency == "EUR"
    first = Message.objects.get(pk=messages[0].pk)
    assert (first.status_group, first.status_id, first.status_name) == (
        "DELIVERED",
        5,
        "DELIVERED_TO_HANDSET",
    )
    assert (first.error_group, first.error_id, first.error_name) == ("OK", 0, "NO_ERROR")
    assert first.error_permanent is False
    assert (first.price, first.currency, first.parts) == (Decimal("0.01"), "EUR", 1)
    assert first.bulk_id == "BULK-ID-123-xyz"
    offset = "+0100" if name.endswith("v3") else "+0000"
    hours = 15 if offset == "+0100" else 16
    assert first.done_at == dt.datetime(2019, 11, 9, hours, 0, tzinfo=UTC)
    assert MessageEvent.objects.filter(message=first, to_state="delivered").count() == 1


@pytest.mark.parametrize(
    ("name", "price", "currency"),
    [("whatsapp_dlr_push", Decimal("0.21"), "BRL"), ("messages_api_dlr_push", None, "")],
)
def test_whatsapp_report_examples_move_the_ledger(post, name, price, currency) -> None:
    campaign, messages = make_ledger(1, channel="whatsapp")
    assert post("whatsapp/reports", _with_ids(example(name), messages)).status_code == 200
    assert counts(campaign) == {"delivered": 1}
    message = Message.objects.get(pk=messages[0].pk)
    assert (message.price, message.currency) == (price, currency)
    if name == "whatsapp_dlr_push":  # -0300 offsets
        assert message.done_at == dt.datetime(2019, 4, 9, 19, 1, 56, 494000, tzinfo=UTC)
    else:
        assert message.done_at == dt.datetime(2024, 2, 6, 17, 18, 29, 797000, tzinfo=UTC)
        assert message.bulk_id == "1688025180464000013"


def test_the_seen_example_records_when_the_message_was_seen(post) -> None:
    _, messages = make_ledger(1, channel="whatsapp", state="delivered")
    body = _with_ids(example("whatsapp_seen_push"), messages)
    assert post("whatsapp/reports", body).status_code == 200
    message = Message.objects.get(pk=messages[0].pk)
    assert message.seen_at == dt.datetime(2018, 12, 12, 11, 21, 58, 251000, tzinfo=UTC)
    assert message.state == "delivered"
    assert MessageEvent.objects.filter(message=message, kind="seen").count() == 1
    # The same receipt again (a new push, another body) changes nothing.
    body["results"][0]["seenAt"] = "2018-12-12T11:30:00.000+0000"
    assert post("whatsapp/reports", body).status_code == 200
    message.refresh_from_db()
    assert message.seen_at == dt.datetime(2018, 12, 12, 11, 21, 58, 251000, tzinfo=UTC)
    assert MessageEvent.objects.filter(message=message, kind="seen").count() == 1


def test_report_examples_with_infobips_own_ids_are_kept_as_unknown(post) -> None:
    assert post("sms/reports", example("sms_dlr_push_v3")).status_code == 200
    pending = {p.message_id: p for p in PendingReport.objects.all()}
    # "MESSAGE-ID-123-xyz" can never be one of Herald's UUIDs: flagged at once.
    assert pending["MESSAGE-ID-123-xyz"].flagged is True
    assert pending["12db39c3-7822-4e72-a3ec-c87442c0ffc5"].flagged is False
    seen = example("whatsapp_seen_push")
    assert post("whatsapp/reports", seen).status_code == 200
    assert PendingReport.objects.filter(kind="seen").count() == 1


def test_the_template_update_example_updates_the_template(post) -> None:
    template = WhatsAppTemplate.objects.create(
        sender="447860099299",
        name="template_name",
        language="en",
        infobip_id="111",
        status="PENDING",
    )
    assert post("whatsapp/reports", example("whatsapp_template_update_push")).status_code == 200
    template.refresh_from_db()
    assert template.status == "APPROVED"


def test_the_inbound_sms_example_is_stored_with_keyword_and_clean_text(post) -> None:
    assert post("sms/inbound", example("sms_inbound_push")).status_code == 200
    inbound = InboundMessage.objects.get()
    assert inbound.channel == "sms"
    assert inbound.infobip_message_id == "817790313235066447"
    assert inbound.contact.phone == "+385916242493"  # created: the sender was unknown
    assert (inbound.from_number, inbound.to_number) == ("385916242493", "385921004026")
    assert inbound.text == "QUIZ Correct answer is Paris"
    assert (inbound.keyword, inbound.clean_text) == ("QUIZ", "Correct answer is Paris")
    assert inbound.keyword_action == ""  # QUIZ is the number's keyword, not STOP/START/HELP
    assert inbound.reply_status == ""
    assert inbound.received_at == dt.datetime(2019, 11, 9, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "message_type", "text", "media_url"),
    [
        ("whatsapp_inbound_text", "TEXT", "Hello, World!", ""),
        (
            "whatsapp_inbound_image",
            "IMAGE",
            "Image Caption",
            "https://{base_url}/whatsapp/1/senders/447796344125/media/"
            "f1b96d31-9ab9-4513-808b-50ab37360fbe",
        ),
        ("whatsapp_inbound_button", "BUTTON", "Button text", ""),
        ("whatsapp_inbound_interactive_button_reply", "INTERACTIVE_BUTTON_REPLY",
         "Button reply title", ""),
        ("whatsapp_inbound_reaction", "REACTION", "🤓", ""),
    ],
)  # fmt: skip
def test_inbound_whatsapp_examples_of_every_type_are_stored(
    post, name, message_type, text, media_url
) -> None:
    assert post("whatsapp/inbound", example(name)).status_code == 200
    inbound = InboundMessage.objects.get()
    assert (inbound.channel, inbound.message_type, inbound.text) == ("whatsapp", message_type, text)
    assert inbound.media_url == media_url
    assert inbound.payload == example(name)["results"][0]["message"]
    contact = Contact.objects.get(phone="+385919998888")
    assert inbound.contact == contact
    received = dt.datetime(2025, 1, 1, 10, 10, tzinfo=UTC)
    assert contact.whatsapp_last_inbound_at == received


def test_an_unknown_whatsapp_type_is_stored_not_rejected(post) -> None:
    body = example("whatsapp_inbound_text")
    body["results"][0]["message"] = {"type": "HOLOGRAM", "shape": {"sides": 12}}
    assert post("whatsapp/inbound", body).status_code == 200
    inbound = InboundMessage.objects.get()
    assert (inbound.message_type, inbound.text) == ("HOLOGRAM", "")
    assert inbound.payload == {"type": "HOLOGRAM", "shape": {"sides": 12}}


def test_the_click_example_is_stored_and_counted_per_campaign(post) -> None:
    campaign, messages = make_ledger(2, state="delivered")
    click_id = uuid.UUID("a28dd97c-1ffb-4fcf-99f1-0b557ed381da")
    Message.objects.filter(pk=messages[0].pk).update(message_id=click_id)
    assert post("clicks", example("sms_click_push")).status_code == 200
    click = Click.objects.get()
    assert (click.campaign, click.message_id) == (campaign, messages[0].pk)
    assert (click.url, click.recipient) == ("https://www.google.com", "41793026727")
    assert (click.device_type, click.os, click.country, click.city) == (
        "Phone",
        "iOS 12",
        "United States",
        "Los Angeles",
    )
    assert click.sent_at == dt.datetime(2024, 1, 1, 11, 0, tzinfo=UTC)
    # A second click (another push) on the same message, and one named by callbackData only.
    again = example("sms_click_push")
    again["url"] = "https://www.google.com/?again"
    assert post("clicks", again).status_code == 200
    other = example("sms_click_push")
    other.update(messageId="not-ours", callbackData=f"herald:campaign={campaign.pk}")
    assert post("clicks", other).status_code == 200
    assert campaign_click_counts(campaign_id=campaign.pk) == {"clicks": 3, "messages": 1}
