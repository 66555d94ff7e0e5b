"""`POST/GET /api/v1/conversations/{id}/replies`: the inbox's reply service on the API (issue 26
#12) — through the ledger, once per Idempotency-Key, with the opt-out rule and errors by field."""

import pytest

from campaigns.models import Message
from contacts.models import Contact
from core.models import AuditEntry
from inbox.models import ConversationReply
from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db


def test_a_reply_goes_out_once_per_key_and_lists_its_ledger_state(api_for, live_sandbox):
    rita = make_user("rita", "Marketer")
    ann = Contact.objects.create(phone="+447946000401")
    api = api_for(rita, ["read", "messages:send"])
    path = f"conversations/{ann.pk}/replies"
    first = api.post(
        path, {"channel": "sms", "text": "Yes, open Sunday"}, headers={"Idempotency-Key": "k-1"}
    )
    assert first.status_code == 202, first.content
    answer = first.json()
    assert (answer["channel"], answer["text"], answer["sentBy"]) == (
        "sms",
        "Yes, open Sunday",
        "rita",
    )
    row = Message.objects.get(message_id=answer["messageId"])
    assert row.callback_data  # the report finds it the ordinary way
    assert row.state == "accepted"  # the batch chain sent it (eager)
    again = api.post(
        path, {"channel": "sms", "text": "Yes, open Sunday"}, headers={"Idempotency-Key": "k-1"}
    )
    assert again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["messageId"] == answer["messageId"]
    assert ConversationReply.objects.count() == 1
    assert live_sandbox.state()["accepted"]["sms"] == 1
    listed = api.get(path).json()["replies"]
    assert [(r["messageId"], r["state"]) for r in listed] == [(answer["messageId"], "accepted")]


def test_refusals_name_the_field_in_words_and_write_nothing(api_for, live_sandbox):
    rita = make_user("rita", "Marketer")
    out = Contact.objects.create(phone="+447946000402", opted_out=True)
    api = api_for(rita, ["messages:send"])
    path = f"conversations/{out.pk}/replies"
    refused = api.post(path, {"channel": "sms", "text": "Deals!"})
    assert refused.status_code == 400
    body = refused.json()
    assert "opted out" in body["error"]["message"]
    assert "transactional" in body["error"]["fields"]
    unknown = api.post(path, {"channel": "fax", "text": "x"})
    assert unknown.status_code == 400
    assert "channel" in unknown.json()["error"]["fields"]
    assert api.post(path, {"channel": "whatsapp", "text": "hi"}).status_code == 400  # no window
    assert not Message.objects.exists()
    confirmed = api.post(
        path, {"channel": "sms", "text": "Your order shipped", "transactional": True}
    )
    assert confirmed.status_code == 202
    assert AuditEntry.objects.filter(action="reply_transactional", contact=out).exists()
    assert (
        api.post("conversations/999999/replies", {"channel": "sms", "text": "x"}).status_code == 404
    )


def test_replying_needs_the_scope_and_the_permission(api_for):
    ann = Contact.objects.create(phone="+447946000403")
    path = f"conversations/{ann.pk}/replies"
    body = {"channel": "sms", "text": "Hi"}
    assert api_for(make_user("rita", "Marketer"), ["read"]).post(path, body).status_code == 403
    nobody = make_user("nobody")
    assert api_for(nobody, ["messages:send"]).post(path, body).status_code == 403
    assert not Message.objects.exists()
