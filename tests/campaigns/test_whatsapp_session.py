"""Free-form WhatsApp (text, image, buttons) only inside the 24-hour window."""

import datetime as dt
import json

import pytest
import responses
from django.utils import timezone

from campaigns.whatsapp_session import WhatsAppSessionError, whatsapp_session_send
from contacts.models import Contact
from tests.fixtures.provider import BASE_URL, sent_bodies

pytestmark = pytest.mark.django_db


def _accept(request):
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


@pytest.fixture
def wa(provider_mocked):
    for path in ("text", "image", "interactive/buttons"):
        provider_mocked.add_callback(
            responses.POST, f"{BASE_URL}/whatsapp/1/message/{path}", _accept
        )
    return provider_mocked


def test_free_text_outside_the_window_is_refused_and_nothing_is_sent(wa) -> None:
    stale = Contact.objects.create(
        phone="+447946000001", whatsapp_last_inbound_at=timezone.now() - dt.timedelta(hours=25)
    )
    never = Contact.objects.create(phone="+447946000002")
    with pytest.raises(WhatsAppSessionError, match=r"24-hour WhatsApp window .* closed.* 25 h ago"):
        whatsapp_session_send(contact=stale, kind="text", text="Hello")
    with pytest.raises(WhatsAppSessionError, match="never written to us on WhatsApp"):
        whatsapp_session_send(contact=never, kind="image", media_url="https://ex.com/a.png")
    assert len(wa.calls) == 0


def test_inside_the_window_text_image_and_buttons_go_out(wa) -> None:
    contact = Contact.objects.create(
        phone="+447946000003", whatsapp_last_inbound_at=timezone.now() - dt.timedelta(hours=23)
    )
    whatsapp_session_send(contact=contact, kind="text", text="See https://ex.com")
    sent = whatsapp_session_send(
        contact=contact, kind="image", text="Our new menu", media_url="https://ex.com/menu.png"
    )
    whatsapp_session_send(
        contact=contact,
        kind="buttons",
        text="Table for two?",
        buttons=[("yes", "Yes"), ("no", "No")],
        footer="Tap",
    )
    assert sent.status.name == "PENDING_ENROUTE"
    [text] = sent_bodies(wa, "/whatsapp/1/message/text")
    assert text["content"] == {"text": "See https://ex.com", "previewUrl": True}
    [image] = sent_bodies(wa, "/whatsapp/1/message/image")
    assert image["to"] == "447946000003"
    assert image["content"] == {"mediaUrl": "https://ex.com/menu.png", "caption": "Our new menu"}
    [buttons] = sent_bodies(wa, "/whatsapp/1/message/interactive/buttons")
    assert buttons["content"]["action"]["buttons"] == [
        {"type": "REPLY", "id": "yes", "title": "Yes"},
        {"type": "REPLY", "id": "no", "title": "No"},
    ]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"kind": "buttons", "text": "?", "buttons": [(str(i), "B" + str(i)) for i in range(4)]},
         "1 to 3, not 4"),
        ({"kind": "buttons", "text": "?", "buttons": [("a", "x" * 21)]}, "1 to 20 characters"),
        ({"kind": "image", "media_url": "ftp://ex.com/a.png"}, "http\\(s\\) URL"),
        ({"kind": "text", "text": "w" * 4097}, "4,097 characters"),
        ({"kind": "video", "text": "x"}, "unknown WhatsApp message kind"),
    ],
)  # fmt: skip
def test_content_outside_whatsapp_limits_is_refused(wa, fields, problem) -> None:
    contact = Contact.objects.create(phone="+447946000004", whatsapp_last_inbound_at=timezone.now())
    with pytest.raises(WhatsAppSessionError, match=problem):
        whatsapp_session_send(contact=contact, **fields)
    assert len(wa.calls) == 0


def test_an_image_reply_through_the_sandbox(on_sandbox) -> None:
    """Done-when path: a person writes in, the inbox replies with an image within 24 h."""
    contact = Contact.objects.create(phone="+447946000005", whatsapp_last_inbound_at=timezone.now())
    sent = whatsapp_session_send(
        contact=contact, kind="image", text="Here you go", media_url="https://ex.com/menu.png"
    )
    truth = on_sandbox.truth(sent.message_id)
    assert truth["to"] == "447946000005"
