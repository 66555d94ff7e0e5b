"""`POST /api/v1/messages`: on the ledger, claimed before sent, opt-outs, Idempotency-Key."""

import pytest

from campaigns.models import Message
from contacts.models import Contact

pytestmark = pytest.mark.django_db

SMS = {"channel": "sms", "sender": "Shop", "to": ["41793026727", "+447911123456"], "text": "Hi"}


def test_sms_to_many_is_sent_once_each_through_the_ledger(api_for, sender_user, live_sandbox):
    response = api_for(sender_user).post("messages", SMS)
    assert response.status_code == 202, response.content
    answer = response.json()["messages"]
    assert [m["to"] for m in answer] == ["+41793026727", "+447911123456"]
    ledger = {str(m.message_id): m for m in Message.objects.all()}
    assert set(ledger) == {m["messageId"] for m in answer}
    assert {m.state for m in ledger.values()} == {"accepted"}
    state = live_sandbox.state()
    assert state["accepted"]["total"] == 2
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    one = api_for(sender_user, ["read"]).get(f"messages/{answer[0]['messageId']}").json()
    assert (one["state"], one["status"]["name"]) == ("accepted", "PENDING_ACCEPTED")


def test_opted_out_recipients_are_skipped_unless_asked(api_for, sender_user, live_sandbox):
    Contact.objects.create(phone="+447911123456", opted_out=True)
    api = api_for(sender_user)
    answer = api.post("messages", SMS).json()["messages"]
    assert [m["state"] for m in answer] == ["queued", "skipped"]
    assert answer[1]["reason"] == "opted out"
    assert live_sandbox.state()["accepted"]["total"] == 1
    # The API's transactional answer (issue 26 #6): explicit, and in the audit trail.
    answer = api.post("messages", {**SMS, "respect_opt_out": False}).json()["messages"]
    assert [m["state"] for m in answer] == ["queued", "queued"]
    # … and sent: the send-time opt-out screen honours it too (both went out this time).
    assert live_sandbox.state()["accepted"]["total"] == 3
    from core.models import AuditEntry

    details = list(
        AuditEntry.objects.filter(action="api_message_send").values_list("detail", flat=True)
    )
    assert sorted(details) == [
        "2 recipient(s)",
        "2 recipient(s); respect_opt_out=false (transactional)",
    ]


def test_the_same_key_twice_sends_once_and_a_new_body_is_refused(
    api_for, sender_user, live_sandbox
) -> None:
    api = api_for(sender_user)
    key = {"Idempotency-Key": "order-1234"}
    first = api.post("messages", SMS, headers=key)
    again = api.post("messages", SMS, headers=key)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert live_sandbox.state()["accepted"]["total"] == 2  # the sandbox counted one send
    assert Message.objects.count() == 2
    other = api.post("messages", {**SMS, "text": "Hello"}, headers=key)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert live_sandbox.state()["accepted"]["total"] == 2


def test_bad_sends_say_which_field_and_write_nothing(api_for, sender_user) -> None:
    api = api_for(sender_user)
    cases = [
        ({**SMS, "to": ["41793026727", "banana"], "all_or_nothing": True}, "to.1"),
        ({**SMS, "to": ["41793026727", "+41793026727"], "all_or_nothing": True}, "to.1"),
        ({**SMS, "to": ["banana", "12"]}, "to.0"),  # nothing left to send
        ({"channel": "fax", "to": "1"}, "channel"),
        ({"channel": "sms", "to": ["41793026727"]}, "text"),
        (
            {
                "channel": "whatsapp_template",
                "to": "41793026727",
                "template": "nope",
                "language": "en",
            },
            "template",
        ),
        ({"channel": "sms", "to": "41793026727", "text": "x" * 1601}, "text"),
        (
            {
                "channel": "sms",
                "to": "41793026727",
                "text": "x",
                "image": "https://example.com/a.png",
            },
            "image",
        ),
        (
            {"channel": "viber", "to": "41793026727", "text": "x",
             "buttons": [{"text": "A", "url": "https://a.example"}, {"text": "B"}]},
            "buttons",
        ),
    ]  # fmt: skip
    for body, field in cases:
        response = api.post("messages", body)
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["error"]["fields"], (body, response.json())
    assert Message.objects.count() == 0


def test_sends_to_many_report_each_bad_number_and_send_the_others(
    api_for, sender_user, live_sandbox
) -> None:
    body = {**SMS, "to": ["41793026727", "banana", "+41793026727", "447946000101"]}
    response = api_for(sender_user).post("messages", body)
    assert response.status_code == 202, response.content
    messages = response.json()["messages"]
    assert [(m["index"], m["state"]) for m in messages] == [
        (0, "queued"),
        (1, "rejected"),
        (2, "rejected"),
        (3, "queued"),
    ]
    assert messages[1]["to"] == "banana"
    assert messages[1]["messageId"] is None
    assert messages[1]["reason"].startswith("NOT_A_NUMBER")
    assert messages[2]["reason"] == "DUPLICATE: the same number as to.0"
    sent = ["+41793026727", "+447946000101"]
    assert [m["to"] for m in messages if m["state"] == "queued"] == sent
    assert sorted(Message.objects.values_list("phone", flat=True)) == sent


def test_messages_send_needs_its_scope(api_for, sender_user) -> None:
    assert api_for(sender_user, ["read"]).post("messages", SMS).status_code == 403


def test_whatsapp_text_outside_the_window_is_skipped_with_the_reason(
    api_for, sender_user, live_sandbox
) -> None:
    body = {"channel": "whatsapp_text", "from": "447860099299", "to": "41793026727", "text": "Hi"}
    (message,) = api_for(sender_user).post("messages", body).json()["messages"]
    assert message["state"] == "skipped"
    assert "24-hour window" in message["reason"]
    assert live_sandbox.state()["accepted"]["total"] == 0


def test_a_whatsapp_template_send_checks_placeholders_against_the_synced_template(
    api_for, sender_user, live_sandbox
) -> None:
    from whatsapp.services import templates_sync

    templates_sync()
    api = api_for(sender_user)
    body = {
        "channel": "whatsapp_template",
        "from": "447860099299",
        "to": "41793026727",
        "template": "order_update",
        "language": "en",
        "placeholders": {"body": ["A-1"]},
    }
    short = api.post("messages", body)
    assert short.status_code == 400
    assert "{{2}}" in short.json()["error"]["message"]
    body["placeholders"] = {"body": ["A-1042", "Friday"]}
    response = api.post("messages", body)
    assert response.status_code == 202, response.content
    (message,) = response.json()["messages"]
    row = Message.objects.get(message_id=message["messageId"])
    assert row.state == "accepted"
    assert row.text == "Your order A-1042 is on its way and arrives on Friday."
    assert live_sandbox.state()["accepted"]["total"] == 1


def test_viber_and_rcs_sends_go_through_the_messages_api(api_for, sender_user, live_sandbox):
    api = api_for(sender_user)
    viber = {
        "channel": "viber",
        "to": ["41793026727", "41793026728"],
        "text": "Your code 1234",
        "buttons": [{"text": "Open app", "url": "https://example.com/app"}],
    }
    rcs = {
        "channel": "rcs",
        "sender": "shop_agent",
        "to": "41793026729",
        "image": "https://example.com/receipt.png",
        "text": "Your receipt",
    }
    for body in (viber, rcs):
        answer = api.post("messages", body)
        assert answer.status_code == 202, answer.content
        assert {m["state"] for m in answer.json()["messages"]} == {"queued"}  # then sent
    assert live_sandbox.state()["acceptedByChannel"] == {"VIBER_BM": 2, "RCS": 1}
    assert set(Message.objects.values_list("state", flat=True)) == {"accepted"}
    rcs_row = Message.objects.get(phone="+41793026729")
    assert rcs_row.channel == "rcs"
    assert live_sandbox.truth(str(rcs_row.message_id))["sender"] == "shop_agent"
