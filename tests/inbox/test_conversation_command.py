"""`manage.py conversation reply|replies`: the inbox's reply service on the command line."""

import json

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Message
from contacts.models import Contact
from inbox.models import ConversationReply

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandboxed(sandbox, settings):
    settings.INFOBIP_SANDBOX_URL = sandbox.url
    settings.INFOBIP_SANDBOX_API_KEY = sandbox.api_key
    return sandbox


def test_a_reply_from_the_command_line_is_a_ledger_row_sent_once_per_key(
    sandboxed, capsys, django_capture_on_commit_callbacks
):
    Contact.objects.create(phone="+447946000501")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            call_command(
                "conversation",
                "reply",
                "--to",
                "+44 7946 000501",
                "--text",
                "See you Sunday",
                "--key",
                "cli-1",
                "--json",
            )
    first, again = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["messageId"] == again["messageId"]
    assert ConversationReply.objects.count() == 1
    row = Message.objects.get(message_id=first["messageId"])
    assert row.callback_data
    assert row.state == "accepted"
    assert sandboxed.state()["accepted"]["sms"] == 1
    call_command("conversation", "replies", "--to", "+447946000501", "--json")
    listed = json.loads(capsys.readouterr().out)["replies"]
    assert [(r["messageId"], r["state"]) for r in listed] == [(first["messageId"], "accepted")]


def test_an_opted_out_contact_needs_the_confirmation(sandboxed):
    Contact.objects.create(phone="+447946000502", opted_out=True)
    with pytest.raises(CommandError, match=r"not sent: .*opted out.*\(--transactional\)"):
        call_command("conversation", "reply", "--to", "+447946000502", "--text", "Deals")
    with pytest.raises(CommandError, match="no contact with the number"):
        call_command("conversation", "reply", "--to", "+447946000599", "--text", "Hi")
    assert not Message.objects.exists()


def test_the_admin_lists_replies_as_ordinary_ledger_messages(
    client, sandboxed, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import User

    Contact.objects.create(phone="+447946000503")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("conversation", "reply", "--to", "+447946000503", "--text", "Thanks!")
    reply = ConversationReply.objects.get()
    client.force_login(User.objects.create_superuser("root", password="x-long-password-42"))
    replies = client.get("/admin/campaigns/message/", {"sent_as": "reply"}).content.decode()
    assert "+447946000503" in replies
    others = client.get("/admin/campaigns/message/", {"sent_as": "campaign"}).content.decode()
    assert "+447946000503" not in others
    page = client.get("/admin/inbox/conversationreply/").content.decode()
    assert reply.message_id in page
    assert client.get(f"/admin/inbox/conversationreply/{reply.pk}/change/").status_code == 200
