"""The inbox as conversations: threads, keyword messages marked, replies by SMS and WhatsApp."""

import datetime as dt
import json

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from inbox.models import ConversationReply
from infobip.models import InboundMessage
from tests.fixtures.provider import BASE_URL, provider_mocked
from tests.ui.conftest import make_user
from ui.roles import MARKETER

pytestmark = pytest.mark.django_db
mocked = provider_mocked  # Herald's client on a fake Infobip (responses), spec-checked


@pytest.fixture
def rita(client):
    client.force_login(make_user("rita", MARKETER))
    return client


def _inbound(contact: Contact, text: str, *, channel: str = "sms", minutes_ago: int = 1, **extra):
    return InboundMessage.objects.create(
        channel=channel,
        contact=contact,
        infobip_message_id=f"in-{text}-{minutes_ago}",
        from_number=contact.phone.lstrip("+"),
        to_number="447860099299" if channel != "sms" else "",
        text=text,
        received_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
        **extra,
    )


def test_threads_show_unread_then_read_and_handled(rita):
    ann = Contact.objects.create(phone="+447946000001", first_name="Ann")
    bob = Contact.objects.create(phone="+447946000002", first_name="Bob")
    _inbound(ann, "Is the sale on?", minutes_ago=5)
    _inbound(
        bob,
        "STOP",
        minutes_ago=2,
        keyword_action="opt_out",
        reply_text="You are out.",
        reply_status="sent",
        reply_sent_at=timezone.now(),
    )
    page = rita.get(reverse("ui:inbox")).content.decode()
    assert page.index("Bob") < page.index("Ann")  # latest activity first
    assert page.count('<span class="badge scheduled">Unread</span>') == 2
    assert "Opt-out" in page

    thread = rita.get(reverse("ui:thread", args=[bob.pk])).content.decode()
    assert "keyword · Opt-out" in thread
    assert "STOP" in thread
    assert "automatic keyword reply" in thread
    assert "You are out." in thread
    unread = rita.get(reverse("ui:threads"), {"show": "unread"}).content.decode()
    assert "Ann" in unread
    assert "Bob" not in unread

    rita.post(reverse("ui:thread_handled", args=[ann.pk]), {"handled": "1"})
    still_open = rita.get(reverse("ui:threads"), {"show": "open"}).content.decode()
    assert "Ann" not in still_open
    assert "Bob" in still_open
    _inbound(ann, "Hello again?", minutes_ago=0)  # a new message opens the thread again
    assert "Ann" in rita.get(reverse("ui:threads"), {"show": "open"}).content.decode()


def test_reply_by_sms_and_whatsapp_appear_in_the_thread(rita, live_sandbox):
    ann = Contact.objects.create(phone="+447946000001", whatsapp_last_inbound_at=timezone.now())
    _inbound(ann, "Hi by SMS")
    _inbound(ann, "Hi by WhatsApp", channel="whatsapp", minutes_ago=0)
    page = rita.get(reverse("ui:thread", args=[ann.pk])).content.decode()
    assert "WhatsApp window open until" in page
    response = rita.post(
        reverse("ui:thread_reply", args=[ann.pk]), {"channel": "sms", "text": "SMS answer"}
    )
    assert response.status_code == 302
    response = rita.post(
        reverse("ui:thread_reply", args=[ann.pk]), {"channel": "whatsapp", "text": "WA answer"}
    )
    assert response.status_code == 302
    replies = ConversationReply.objects.order_by("id")
    assert [(r.channel, r.text) for r in replies] == [
        ("sms", "SMS answer"),
        ("whatsapp", "WA answer"),
    ]
    assert all(r.message_id for r in replies)
    assert replies[1].sender == "447860099299"  # the number they wrote to
    thread = rita.get(reverse("ui:thread_messages", args=[ann.pk])).content.decode()
    assert thread.index("Hi by SMS") < thread.index("SMS answer") < thread.index("WA answer")
    assert "reply by rita" in thread


def test_whatsapp_outside_the_window_is_refused_keeping_the_text(rita, live_sandbox):
    ann = Contact.objects.create(
        phone="+447946000001", whatsapp_last_inbound_at=timezone.now() - dt.timedelta(hours=30)
    )
    _inbound(ann, "old", channel="whatsapp", minutes_ago=30 * 60)
    page = rita.get(reverse("ui:thread", args=[ann.pk])).content.decode()
    assert "window with +447946000001 closed" in page
    response = rita.post(
        reverse("ui:thread_reply", args=[ann.pk]), {"channel": "whatsapp", "text": "Kept text"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="reply-error"' in page
    assert ">Kept text</textarea>" in page
    assert not ConversationReply.objects.exists()


def test_a_reply_goes_through_the_ledger_and_the_thread_shows_its_delivery_state(
    rita, mocked, django_capture_on_commit_callbacks
):
    """Issue 26 #12: Infobip's refusal (or later report) lands on the reply's ledger row."""
    ann = Contact.objects.create(phone="+447946000001")
    _inbound(ann, "Hi")
    mocked.add(
        responses.POST,
        f"{BASE_URL}/sms/3/messages",
        status=400,
        body=json.dumps(
            {
                "errorCode": "E400",
                "description": "Invalid sender",
                "action": "Check the sender",
                "violations": [],
                "resources": [],
            }
        ),
        content_type="application/json",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = rita.post(
            reverse("ui:thread_reply", args=[ann.pk]), {"channel": "sms", "text": "Please keep me"}
        )
    assert response.status_code == 302
    reply = ConversationReply.objects.get()
    assert reply.campaign is not None
    thread = rita.get(reverse("ui:thread_messages", args=[ann.pk])).content.decode()
    assert 'data-reply-state="failed"' in thread
    assert "Invalid sender" in thread
    # The reply's one-off campaign is not one of the marketer's campaigns.
    assert "Inbox reply to" not in rita.get(reverse("ui:campaigns")).content.decode()


def test_an_accepted_reply_shows_accepted_then_its_report(
    rita, live_sandbox, django_capture_on_commit_callbacks
):
    ann = Contact.objects.create(phone="+447946000002")
    _inbound(ann, "Open Sunday?")
    with django_capture_on_commit_callbacks(execute=True):
        rita.post(reverse("ui:thread_reply", args=[ann.pk]), {"channel": "sms", "text": "Yes"})
    thread = rita.get(reverse("ui:thread_messages", args=[ann.pk])).content.decode()
    assert 'data-reply-state="accepted"' in thread
    assert "Accepted, on its way" in thread


def test_a_double_click_or_a_resent_form_sends_one_reply(
    rita, live_sandbox, django_capture_on_commit_callbacks
):
    """The form's key makes the second post of the same reply return the first one."""
    from campaigns.models import Message

    ann = Contact.objects.create(phone="+447946000005")
    _inbound(ann, "Still open?")
    page = rita.get(reverse("ui:thread", args=[ann.pk])).content.decode()
    key = page.split('name="reply_key" value="')[1].split('"')[0]
    assert len(key) == 32
    url = reverse("ui:thread_reply", args=[ann.pk])
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert (
                rita.post(url, {"channel": "sms", "text": "Yes", "reply_key": key}).status_code
                == 302
            )
    assert ConversationReply.objects.count() == 1
    assert Message.objects.filter(contact=ann).count() == 1
    assert live_sandbox.state()["accepted"]["sms"] == 1  # Infobip got it once
    # A new form (a new key) is a new reply.
    fresh = rita.get(reverse("ui:thread", args=[ann.pk])).content.decode()
    assert key not in fresh
    with django_capture_on_commit_callbacks(execute=True):
        rita.post(url, {"channel": "sms", "text": "Yes", "reply_key": "other-key"})
    assert ConversationReply.objects.count() == 2
    # The same key in another conversation is refused in words beside the text, not a 500.
    bob = Contact.objects.create(phone="+447946000006")
    _inbound(bob, "Hi")
    response = rita.post(
        reverse("ui:thread_reply", args=[bob.pk]),
        {"channel": "sms", "text": "Hello", "reply_key": key},
    )
    assert response.status_code == 400
    assert "already used in another conversation" in response.content.decode()


def test_a_closed_window_offers_a_template_send_from_the_thread(
    rita, live_sandbox, django_capture_on_commit_callbacks
):
    from whatsapp.models import WhatsAppTemplate
    from whatsapp.services import templates_sync

    templates_sync()
    bienvenida = WhatsAppTemplate.objects.get(name="bienvenida", language="es")
    ann = Contact.objects.create(
        phone="+447946000003",
        first_name="Ana",
        whatsapp_last_inbound_at=timezone.now() - dt.timedelta(hours=30),
    )
    _inbound(ann, "hola", channel="whatsapp", minutes_ago=30 * 60)
    page = rita.get(reverse("ui:thread", args=[ann.pk])).content.decode()
    assert "WhatsApp window closed: send a template" in page
    page = rita.get(reverse("ui:thread", args=[ann.pk]), {"template": bienvenida.pk})
    assert 'id="template-form"' in page.content.decode()
    url = reverse("ui:thread_template", args=[ann.pk])
    refused = rita.post(url, {"template": bienvenida.pk, "body_0": ""})
    assert refused.status_code == 400
    assert 'id="template-error"' in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        sent = rita.post(url, {"template": bienvenida.pk, "body_0": "{{first_name}}"})
    assert sent.status_code == 302
    reply = ConversationReply.objects.get()
    assert "Ana" in reply.text
    assert reply.campaign.channel == "whatsapp_template"
    thread = rita.get(reverse("ui:thread_messages", args=[ann.pk])).content.decode()
    assert 'data-reply-state="accepted"' in thread
    assert rita.post(url, {"template": "x"}).status_code == 400  # hostile input: no 500


def test_the_inbox_default_view_lists_every_message_keyword_ones_included(rita):
    """Issue 26 #12: "" meant both "no filter" and "no keyword", so STOPs were hidden."""
    ann = Contact.objects.create(phone="+447946000004")
    _inbound(ann, "STOP", keyword_action="opt_out", minutes_ago=2)
    _inbound(ann, "Where is my order?", minutes_ago=1)
    page = rita.get(reverse("ui:inbox")).content.decode()
    table = page[page.index("All messages received") :]
    assert "STOP" in table
    assert "Where is my order?" in table
    only_plain = rita.get(reverse("ui:inbox"), {"keyword": "none"}).content.decode()
    table = only_plain[only_plain.index("All messages received") :]
    assert "Where is my order?" in table
    assert ">STOP<" not in table
    opt_outs = rita.get(reverse("ui:inbox"), {"keyword": "opt_out"}).content.decode()
    assert "Where is my order?" not in opt_outs[opt_outs.index("All messages received") :]
