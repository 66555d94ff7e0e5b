"""The /_sandbox/ control API: inbound pushes, inbox pull, truth listing and reset."""

from jsonschema import Draft202012Validator

from infobip import openapi
from infobip.sandbox.validation import compile_schema

SMS_INBOUND = openapi.webhook_validator("sms", "receive-inbound-sms-messages")
WA_INBOUND = openapi.webhook_validator("whatsapp", "receive-inbound-whatsapp-messages")


def test_inbound_sms_push_in_mo_json_2_shape(sandbox, webhook_sink) -> None:
    answer = sandbox.inbound(
        "sms", "447900000001", "stop please", to="447860099299", url=webhook_sink.url("/in")
    )
    assert answer["status"] == 200
    (body,) = webhook_sink.bodies("/in")
    assert list(SMS_INBOUND.iter_errors(body)) == []
    (item,) = body["results"]
    assert item["from"] == "447900000001"
    assert item["to"] == "447860099299"
    assert (item["text"], item["keyword"], item["cleanText"]) == ("stop please", "STOP", "please")
    assert body["messageCount"] == 1
    assert body["pendingMessageCount"] == 0
    plain = sandbox.inbound("sms", "447900000001", "hello there", url=webhook_sink.url("/in"))
    item = webhook_sink.bodies("/in")[1]["results"][0]
    assert "keyword" not in item
    assert item["cleanText"] == "hello there"
    assert item["messageId"] == plain["messageId"]


def test_inbound_whatsapp_push_in_mo_ott_contact_shape(sandbox, webhook_sink) -> None:
    sandbox.inbound("whatsapp", "447900000002", "HELP", url=webhook_sink.url())
    (body,) = webhook_sink.bodies()
    assert list(WA_INBOUND.iter_errors(body)) == []
    schema = openapi.load("whatsapp")["webhooks"]["receive-inbound-whatsapp-messages"]
    strict = compile_schema("whatsapp", schema["post"]["requestBody"])
    validator = Draft202012Validator(strict["content"]["application/json"]["schema"])
    assert list(validator.iter_errors(body)) == []  # including the TEXT message subtype
    item = body["results"][0]
    assert item["message"] == {"type": "TEXT", "text": "HELP"}
    assert item["integrationType"] == "WHATSAPP"
    assert item["contact"]["phoneNumber"] == item["from"]


def test_inbound_without_url_is_queued_for_the_inbox_pull(sandbox) -> None:
    assert sandbox.inbound("sms", "447900000003", "START")["queued"] is True
    first = sandbox.request("GET", "/sms/1/inbox/reports").json()
    assert list(SMS_INBOUND.iter_errors(first)) == []
    assert [r["text"] for r in first["results"]] == ["START"]
    assert sandbox.request("GET", "/sms/1/inbox/reports").json()["results"] == []


def test_inbound_follows_the_numbers_inbound_configuration(sandbox, webhook_sink) -> None:
    path = "/resource-management/1/inbound-message-configurations"
    sandbox.request(
        "POST",
        path,
        json={
            "channel": "SMS",
            "number": "447860099299",
            "keyword": "QUIZ",
            "forwarding": {"type": "HTTP_FORWARD", "url": webhook_sink.url("/quiz")},
        },
    )
    sandbox.request(
        "POST",
        path,
        json={
            "channel": "SMS",
            "number": "447860099299",
            "forwarding": {"type": "HTTP_FORWARD", "url": webhook_sink.url("/all")},
        },
    )
    sandbox.inbound("sms", "447900000004", "quiz Paris", to="447860099299")
    sandbox.inbound("sms", "447900000004", "hello", to="447860099299")
    (quiz,) = webhook_sink.results("/quiz")
    assert (quiz["keyword"], quiz["cleanText"]) == ("QUIZ", "Paris")
    assert [r["text"] for r in webhook_sink.results("/all")] == ["hello"]


def test_inbound_refuses_non_local_urls_and_bad_input(sandbox) -> None:
    remote = sandbox.request(
        "POST",
        "/_sandbox/inbound",
        json={
            "channel": "sms",
            "from": "447900000001",
            "text": "hi",
            "url": "https://example.com/x",
        },
    )
    assert remote.status_code == 400
    bad = sandbox.request("POST", "/_sandbox/inbound", json={"channel": "fax", "from": "1"})
    assert bad.status_code == 400


def test_reports_to_non_local_urls_are_refused(sandbox, sms_body) -> None:
    sandbox.request("POST", "/sms/3/messages", json=sms_body(2, url="https://herald.example/x"))
    sandbox.flush()
    assert sandbox.state()["reports"]["refused"] == 2


def test_messages_truth_listing_and_reset(sandbox, sms_body) -> None:
    sandbox.configure(push_delay=5)
    sandbox.request("POST", "/sms/3/messages", json=sms_body(3))
    listed = sandbox.request("GET", "/_sandbox/messages", params={"limit": 2}).json()["results"]
    assert [t["messageId"] for t in listed] == ["m-0", "m-1"]
    assert listed[0]["outcome"] in ("delivered", "undeliverable", "expired", "rejected")
    assert sandbox.state()["reports"]["pending"] == 3
    sandbox.reset()
    state = sandbox.state()
    assert state["accepted"]["total"] == 0
    assert state["reports"]["pending"] == 0
    assert state["config"]["push_delay"] == 0.05  # back to the startup options
    assert sandbox.truth("m-0") is None
