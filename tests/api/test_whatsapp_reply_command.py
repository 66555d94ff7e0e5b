"""`whatsapp_reply`: through the ledger and the consent rules, like every send.

An image reply inside the 24-hour window is a ledger row sent through the sandbox; an opted-out
contact or a closed window is refused with the reason and nothing is sent.
"""

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.models import Campaign, Message
from contacts.models import Contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandboxed(sandbox, settings):
    settings.INFOBIP_SANDBOX_URL = sandbox.url
    settings.INFOBIP_SANDBOX_API_KEY = sandbox.api_key
    return sandbox


def test_image_reply_inside_the_window_is_a_ledger_row_sent_through_the_sandbox(
    sandboxed, capsys, django_capture_on_commit_callbacks
) -> None:
    Contact.objects.create(
        phone="+447946000301", whatsapp_last_inbound_at=timezone.now() - dt.timedelta(hours=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "whatsapp_reply",
            "--to",
            "+44 7946 000301",
            "--image",
            "https://example.com/offer.jpg",
            "--text",
            "Your offer",
            "--json",
        )
    sent = json.loads(capsys.readouterr().out)
    assert (sent["kind"], sent["state"]) == ("image", "queued")
    row = Message.objects.get(message_id=sent["messageId"])
    assert (row.state, row.phone, row.text) == ("accepted", "+447946000301", "Your offer")
    truth = sandboxed.truth(sent["messageId"])
    assert truth["to"] == "447946000301"
    # A one-off send, not a marketing campaign: out of the marketer's list, like the API's.
    assert Campaign.objects.filter(transactional__isnull=True).count() == 0


def test_an_opted_out_contact_is_refused_and_nothing_is_sent(
    sandboxed, django_capture_on_commit_callbacks
) -> None:
    Contact.objects.create(
        phone="+447946000304", whatsapp_last_inbound_at=timezone.now(), opted_out=True
    )
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(CommandError, match=r"not sent: .*opted out.*--transactional"),
    ):
        call_command("whatsapp_reply", "--to", "+447946000304", "--text", "Hello")
    assert not Message.objects.exists()
    assert sandboxed.state()["accepted"]["total"] == 0


def test_reply_outside_the_window_is_refused_and_nothing_is_sent(
    sandboxed, django_capture_on_commit_callbacks
) -> None:
    Contact.objects.create(
        phone="+447946000302", whatsapp_last_inbound_at=timezone.now() - dt.timedelta(hours=30)
    )
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(CommandError, match=r"not sent: the 24-hour WhatsApp window with .* closed"),
    ):
        call_command("whatsapp_reply", "--to", "+447946000302", "--text", "Hello")
    assert sandboxed.state()["accepted"]["total"] == 0


def test_bad_input_is_explained(sandboxed) -> None:
    Contact.objects.create(phone="+447946000303", whatsapp_last_inbound_at=timezone.now())
    with pytest.raises(CommandError, match="id:Title"):
        call_command(
            "whatsapp_reply", "--to", "+447946000303", "--text", "Pick", "--button", "no-title"
        )
    with pytest.raises(CommandError, match="button ids must be different"):
        call_command(
            "whatsapp_reply",
            "--to",
            "+447946000303",
            "--text",
            "Pick",
            "--button",
            "a:Yes",
            "--button",
            "a:No",
        )
    assert not Message.objects.exists()


def test_a_text_reply_is_an_inbox_reply_its_thread_shows(
    sandboxed, capsys, django_capture_on_commit_callbacks
) -> None:
    """The command line's text reply uses the conversation's reply service (issue 26 #12)."""
    from inbox.models import ConversationReply

    ann = Contact.objects.create(phone="+447946000305", whatsapp_last_inbound_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        call_command("whatsapp_reply", "--to", "+447946000305", "--text", "On its way", "--json")
    sent = json.loads(capsys.readouterr().out)
    reply = ConversationReply.objects.get(contact=ann)
    assert (reply.message_id, reply.channel, reply.text) == (
        sent["messageId"],
        "whatsapp",
        "On its way",
    )
    assert Message.objects.get(message_id=sent["messageId"]).state == "accepted"
