"""Inbound SMS/WhatsApp: stored once, linked to contacts, keywords applied and confirmed."""

import datetime as dt

import pytest
import responses
from django.conf import settings

from campaigns.models import Message
from campaigns.sending import campaign_send_batch
from contacts.models import ConsentEvent, Contact
from inbox.services import inbound_reply_send
from infobip.models import InboundMessage, WebhookEvent
from infobip.processing import events_reprocess
from tests.infobip.webhooks.conftest import counts, make_ledger, sent_bodies

pytestmark = pytest.mark.django_db

OUR_NUMBER = "447860099299"
PHONE = "447946000001"


def sms(text: str, *, sender: str = PHONE, message_id: str = "in-1", at: str = "") -> dict:
    received = at or "2026-11-21T10:00:00.000+0000"
    item = {
        "messageId": message_id,
        "from": sender,
        "to": OUR_NUMBER,
        "text": text,
        "cleanText": text,
        "receivedAt": received,
        "smsCount": 1,
    }
    return {"results": [item], "messageCount": 1, "pendingMessageCount": 0}


def whatsapp(message: dict, *, sender: str = PHONE, message_id: str = "wamid.1", at: str = ""):
    item = {
        "from": sender,
        "to": OUR_NUMBER,
        "integrationType": "WHATSAPP",
        "receivedAt": at or "2026-11-21T10:00:00.000+0000",
        "messageId": message_id,
        "message": message,
        "contact": {"name": "Ann", "phoneNumber": sender},
    }
    return {"results": [item], "messageCount": 1, "pendingMessageCount": 0}


@pytest.mark.parametrize("word", ["STOP", "stop", "Stop!", "Arrêt", "ALTO", "Stopp", "cancella"])
def test_an_sms_opt_out_keyword_opts_out_and_is_confirmed_by_sms(post, infobip_api, word) -> None:
    assert post("sms/inbound", sms(f"{word} thanks")).status_code == 200
    contact = Contact.objects.get(phone=f"+{PHONE}")
    assert contact.opted_out is True
    assert (contact.opted_out_source, contact.opted_out_channel) == ("keyword", "sms")
    inbound = InboundMessage.objects.get()
    assert (inbound.keyword_action, inbound.reply_status) == ("opt_out", "sent")
    (sent,) = sent_bodies(infobip_api, "/sms/3/messages")
    message = sent["messages"][0]
    assert message["sender"] == OUR_NUMBER  # the number they wrote to
    assert message["destinations"][0]["to"] == PHONE
    assert message["content"]["text"] == settings.HERALD_KEYWORD_REPLIES["opt_out"]
    assert inbound.reply_message_id == message["destinations"][0]["messageId"]


def test_start_opts_back_in_and_help_only_answers(post, infobip_api) -> None:
    post("sms/inbound", sms("STOP", message_id="a"))
    post("sms/inbound", sms("start", message_id="b", at="2026-11-21T10:01:00.000+0000"))
    contact = Contact.objects.get(phone=f"+{PHONE}")
    assert contact.opted_out is False
    post("sms/inbound", sms("Help", message_id="c", at="2026-11-21T10:02:00.000+0000"))
    assert Contact.objects.get(pk=contact.pk).opted_out is False
    actions = list(
        ConsentEvent.objects.filter(contact=contact).order_by("id").values_list("action", "note")
    )
    assert actions == [("opt_out", "STOP by SMS"), ("opt_in", "START by SMS")]
    texts = [b["messages"][0]["content"]["text"] for b in sent_bodies(infobip_api, "/messages")]
    replies = settings.HERALD_KEYWORD_REPLIES
    assert texts == [replies["opt_out"], replies["opt_in"], replies["help"]]


def test_stop_and_start_in_one_push_are_applied_in_the_order_they_were_sent(
    post, infobip_api
) -> None:
    body = sms("START", message_id="later", at="2026-11-21T10:05:00.000+0000")
    body["results"] += sms("STOP", message_id="earlier")["results"]
    post("sms/inbound", body)
    assert Contact.objects.get(phone=f"+{PHONE}").opted_out is False
    assert len(sent_bodies(infobip_api, "/sms/3/messages")) == 2


def test_a_whatsapp_stop_is_confirmed_on_whatsapp_from_the_same_number(post, infobip_api) -> None:
    post(
        "whatsapp/inbound",
        whatsapp({"type": "BUTTON", "text": "Stop promotions", "payload": "stop"}),
    )
    contact = Contact.objects.get(phone=f"+{PHONE}")
    assert (contact.opted_out, contact.opted_out_channel) == (True, "whatsapp")
    (sent,) = sent_bodies(infobip_api, "/whatsapp/1/message/text")
    assert (sent["from"], sent["to"]) == (OUR_NUMBER, PHONE)
    assert sent["content"]["text"] == settings.HERALD_KEYWORD_REPLIES["opt_out"]
    assert not sent_bodies(infobip_api, "/sms/3/messages")


def test_a_reaction_or_image_is_never_a_keyword(post, infobip_api) -> None:
    post("whatsapp/inbound", whatsapp({"type": "IMAGE", "caption": "STOP", "url": "https://x/1"}))
    assert Contact.objects.get(phone=f"+{PHONE}").opted_out is False
    assert not infobip_api.calls


def test_replays_and_redeliveries_never_send_a_second_reply(post, infobip_api) -> None:
    body = sms("STOP")
    post("sms/inbound", body)  # stored and processed
    post("sms/inbound", body)  # the same push again: a duplicate event
    redelivered = sms("STOP")
    redelivered["pendingMessageCount"] = 3  # another body, same message
    post("sms/inbound", redelivered)
    events_reprocess(event_ids=list(WebhookEvent.objects.values_list("id", flat=True)))
    assert InboundMessage.objects.count() == 1
    assert len(sent_bodies(infobip_api, "/sms/3/messages")) == 1
    assert ConsentEvent.objects.count() == 1


def test_no_contact_no_confirmation(post, infobip_api) -> None:
    body = whatsapp({"type": "TEXT", "text": "STOP"}, sender="US.1349120865530274191")
    body["results"][0]["contact"] = {"userId": "US.1349120865530274191"}
    post("whatsapp/inbound", body)
    inbound = InboundMessage.objects.get()
    assert (inbound.contact, inbound.keyword_action, inbound.reply_status) == (None, "opt_out", "")
    assert not infobip_api.calls


def test_the_last_inbound_whatsapp_time_only_moves_forward(post) -> None:
    post(
        "whatsapp/inbound",
        whatsapp(
            {"type": "TEXT", "text": "hi"}, message_id="w2", at="2026-11-21T12:00:00.000+0100"
        ),
    )
    post(
        "whatsapp/inbound",
        whatsapp(
            {"type": "TEXT", "text": "earlier"}, message_id="w1", at="2026-11-21T09:00:00.000+0000"
        ),
    )
    contact = Contact.objects.get(phone=f"+{PHONE}")
    assert contact.whatsapp_last_inbound_at == dt.datetime(2026, 11, 21, 11, 0, tzinfo=dt.UTC)
    assert InboundMessage.objects.count() == 2


def test_an_sms_never_changes_the_whatsapp_window(post) -> None:
    post("sms/inbound", sms("hello"))
    assert Contact.objects.get(phone=f"+{PHONE}").whatsapp_last_inbound_at is None


def test_a_transient_reply_failure_is_retried_and_a_permanent_one_is_not(post, settings) -> None:
    settings.INFOBIP_MAX_RETRIES = 0  # the task's retry is under test, not urllib3's
    url = settings.INFOBIP_SANDBOX_URL.rstrip("/") + "/sms/3/messages"
    status = {"groupId": 1, "id": 26, "name": "PENDING_ACCEPTED"}
    accepted = {"messages": [{"messageId": "x", "status": status}]}
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, url, status=503, json={"errorCode": "E500"})
        post("sms/inbound", sms("HELP", message_id="h1"))  # the task asks Celery for a retry
        assert len(mock.calls) == 1
    inbound = InboundMessage.objects.get(infobip_message_id="h1")
    assert inbound.reply_status == "pending"
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, url, json=accepted)
        assert inbound_reply_send(inbound_id=inbound.pk) == "sent"  # the retry
        assert inbound_reply_send(inbound_id=inbound.pk) == "sent"  # a duplicate of it
        assert len(mock.calls) == 1
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, url, status=400, json={"errorCode": "E400", "description": "no"})
        post("sms/inbound", sms("HELP", message_id="h2"))
        assert len(mock.calls) == 1
    failed = InboundMessage.objects.get(infobip_message_id="h2")
    assert failed.reply_status == "failed"
    assert "no" in failed.reply_error
    assert inbound_reply_send(inbound_id=failed.pk) == "failed"  # never re-sent


def test_opt_out_during_a_running_campaign(post, sandbox, settings) -> None:
    """STOP arrives while a campaign is half sent: later batches skip the contact; what was
    already sent stays as it was."""
    settings.INFOBIP_SANDBOX_URL, settings.INFOBIP_SANDBOX_API_KEY = sandbox.url, sandbox.api_key
    settings.HERALD_BATCH_SIZE = 2
    campaign, messages = make_ledger(6, state="queued", text="Spring sale", sender="Herald")
    assert campaign_send_batch(campaign_id=campaign.pk).accepted == 2
    sent_first, queued_later = messages[0], messages[4]
    for i, message in enumerate((sent_first, queued_later)):
        post("sms/inbound", sms("STOP", sender=message.phone[1:], message_id=f"stop-{i}"))
    assert Message.objects.get(pk=queued_later.pk).state == "skipped"
    while campaign_send_batch(campaign_id=campaign.pk).claimed:
        pass
    assert counts(campaign) == {"accepted": 5, "skipped": 1}
    skipped = Message.objects.get(pk=queued_later.pk)
    assert skipped.reason == "opted out after launch"
    assert sandbox.truth(str(skipped.message_id)) is None  # never reached Infobip
    assert Message.objects.get(pk=sent_first.pk).state == "accepted"
    for message in messages:
        if message.pk != queued_later.pk:
            assert sandbox.truth(str(message.message_id))["to"] == message.phone[1:]
    # Both STOPs were confirmed through the sandbox, from the number they wrote to.
    assert InboundMessage.objects.filter(reply_status="sent").count() == 2
