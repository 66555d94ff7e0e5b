"""Issue 26 #6: a manual reply to an opted-out contact is refused unless someone confirms it is a
transactional answer, which the audit trail records — in the conversation, the inbox's quick
reply and `whatsapp_reply` alike (contacts.services.contact_reply_authorize)."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from contacts.models import ConsentSource, Contact
from contacts.services import ReplyRefused, contact_opt_out, contact_reply_authorize
from core.models import AuditEntry
from core.rules import OPERATOR
from inbox.models import ConversationReply
from infobip.models import InboundMessage
from tests.ui.conftest import make_user
from ui.roles import MARKETER

pytestmark = pytest.mark.django_db


@pytest.fixture
def opted_out() -> Contact:
    ann = Contact.objects.create(
        phone="+447946000501", first_name="Ann", whatsapp_last_inbound_at=timezone.now()
    )
    contact_opt_out(contact=ann, source=ConsentSource.KEYWORD, note="STOP")
    ann.refresh_from_db()
    InboundMessage.objects.create(
        channel="whatsapp",
        contact=ann,
        infobip_message_id="rc-1",
        from_number="447946000501",
        to_number="447860099299",
        text="Where is my order 1042?",
        received_at=timezone.now(),
    )
    return ann


def test_the_rule_refuses_marketing_and_audits_a_transactional_answer(opted_out):
    with pytest.raises(ReplyRefused, match=r"opted out on .* \(keyword\): .*transactional answer"):
        contact_reply_authorize(contact=opted_out, actor=OPERATOR, channel="sms")
    assert not AuditEntry.objects.filter(action="reply_transactional").exists()
    assert contact_reply_authorize(
        contact=opted_out, actor=OPERATOR, channel="sms", transactional=True
    )
    entry = AuditEntry.objects.get(action="reply_transactional")
    assert (entry.actor_name, entry.contact_id) == ("operator", opted_out.pk)
    assert "sms reply to an opted-out contact" in entry.detail
    # Someone still subscribed needs no confirmation, and nothing is audited for it.
    bob = Contact.objects.create(phone="+447946000502")
    assert contact_reply_authorize(contact=bob, actor=OPERATOR, channel="sms") is False
    assert AuditEntry.objects.filter(action="reply_transactional").count() == 1


def test_the_conversation_refuses_then_sends_when_confirmed(client, opted_out, live_sandbox):
    rita = make_user("rita", MARKETER)
    client.force_login(rita)
    page = client.get(reverse("ui:thread", args=[opted_out.pk])).content.decode()
    assert 'id="opted-out-reply"' in page
    assert "This is a transactional answer, not marketing" in page

    url = reverse("ui:thread_reply", args=[opted_out.pk])
    refused = client.post(url, {"channel": "sms", "text": "20% off this week!"})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "a marketing reply is not allowed" in page
    assert ">20% off this week!</textarea>" in page  # the typed text is kept
    assert not ConversationReply.objects.exists()

    sent = client.post(
        url, {"channel": "sms", "text": "Order 1042 ships today.", "transactional": "1"}
    )
    assert sent.status_code == 302
    reply = ConversationReply.objects.get()
    assert (reply.text, reply.sent_by) == ("Order 1042 ships today.", rita)
    entry = AuditEntry.objects.get(action="reply_transactional")
    assert (entry.actor_id, entry.contact_id) == (rita.pk, opted_out.pk)


def test_the_inbox_quick_reply_points_to_the_conversation(client, opted_out, live_sandbox):
    client.force_login(make_user("rita", MARKETER))
    page = client.get(reverse("ui:inbox")).content.decode()
    assert "Opted out: answer in the conversation" in page
    inbound = InboundMessage.objects.get()
    response = client.post(reverse("ui:inbox_reply", args=[inbound.pk]), {"text": "Deals!"})
    assert response.status_code == 400
    page = response.content.decode()  # the reason beside that message's reply, in words
    assert f'id="reply-error-{inbound.pk}"' in page
    assert "Not sent: +447946000501 opted out" in page
    assert "--transactional" not in page
    assert live_sandbox.state()["accepted"]["total"] == 0


def test_the_command_line_reply_obeys_the_same_rule(opted_out, live_sandbox, capsys):
    make_user("rita", MARKETER)
    with pytest.raises(CommandError, match=r"not sent: .*opted out.*--transactional"):
        call_command("whatsapp_reply", "--to", opted_out.phone, "--text", "Deals!")
    assert live_sandbox.state()["accepted"]["total"] == 0
    call_command(
        "whatsapp_reply",
        "--to",
        opted_out.phone,
        "--text",
        "Order 1042 ships today.",
        "--transactional",
        "--as",
        "rita",
    )
    assert "text to +447946000501: queued" in capsys.readouterr().out  # in the ledger
    entry = AuditEntry.objects.get(action="reply_transactional")
    assert entry.actor_name == "rita"
    assert "whatsapp reply" in entry.detail
