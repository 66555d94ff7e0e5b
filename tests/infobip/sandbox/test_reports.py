"""Delivery reports: pushed in Infobip's shapes, batched, matching the truth; pulled once."""

from collections import Counter

from infobip import openapi

from .conftest import example, response_validator

SMS_DLR = openapi.webhook_validator("sms", "receive-outbound-sms-message-reports-v3")
WA_DLR = openapi.webhook_validator("whatsapp", "receive-whatsapp-delivery-reports")
WA_SEEN = openapi.webhook_validator("whatsapp", "receive-whatsapp-seen-reports")
SMS_REPORT_KEYS = {
    "bulkId",
    "messageId",
    "to",
    "sender",
    "sentAt",
    "doneAt",
    "messageCount",
    "price",
    "status",
    "error",
    "callbackData",
}
STATUS_KEYS = {"groupId", "groupName", "id", "name", "description"}


def _assert_valid(validator, body) -> None:
    assert list(validator.iter_errors(body)) == []


def test_sms_reports_are_pushed_in_batches_of_100_in_the_spec_shape(
    sandbox, webhook_sink, sms_body
) -> None:
    sandbox.configure(outcomes="delivered=0.5,undeliverable=0.2,expired=0.2,rejected=0.1")
    body = sms_body(250, url=webhook_sink.url("/dlr"))
    body["messages"][0]["options"] = {
        "platform": {"entityId": "ent", "applicationId": "app"},
        "campaignReferenceId": "spring",
    }
    assert sandbox.request("POST", "/sms/3/messages", json=body).status_code == 200
    assert sandbox.flush() == 0
    results = webhook_sink.wait_for_results(250, "/dlr")
    for push in webhook_sink.bodies("/dlr"):
        _assert_valid(SMS_DLR, push)
        assert 1 <= len(push["results"]) <= 100
    assert len(webhook_sink.bodies("/dlr")) == 3
    by_id = {r["messageId"]: r for r in results}
    assert len(by_id) == 250
    for report in results:
        assert set(report) >= SMS_REPORT_KEYS
        assert set(report["status"]) == STATUS_KEYS
        assert set(report["error"]) == STATUS_KEYS | {"permanent"}
        assert report["callbackData"] == "herald:campaign=12"
        assert report["sentAt"].endswith("+0000")
        assert len(report["doneAt"]) == 28
    first = by_id["m-0"]
    assert first["platform"] == {"entityId": "ent", "applicationId": "app"}
    assert first["campaignReferenceId"] == "spring"
    # The pushed statuses are the sandbox's truth, and the mix follows the configured shares.
    for message_id in ("m-0", "m-1", "m-77", "m-249"):
        truth = sandbox.truth(message_id)
        assert by_id[message_id]["status"]["name"] == truth["status"]
        assert by_id[message_id]["error"]["name"] == truth["error"]
        assert truth["state"] == "final"
    groups = Counter(r["status"]["groupName"] for r in results)
    assert set(groups) == {"DELIVERED", "UNDELIVERABLE", "EXPIRED", "REJECTED"}
    assert groups == Counter({k.upper(): v for k, v in sandbox.state()["outcomes"].items() if v})
    rejected = next(r for r in results if r["status"]["groupName"] == "REJECTED")
    assert rejected["price"]["pricePerMessage"] == 0
    assert sandbox.state()["reports"]["pushed"] == 250


def test_outcomes_are_reproducible_from_the_seed(sandbox, sms_body) -> None:
    sandbox.request("POST", "/sms/3/messages", json=sms_body(40))
    first = [sandbox.truth(f"m-{i}")["status"] for i in range(40)]
    sandbox.reset()
    sandbox.request("POST", "/sms/3/messages", json=sms_body(40))
    assert [sandbox.truth(f"m-{i}")["status"] for i in range(40)] == first
    sandbox.reset()
    sandbox.configure(seed="another")
    sandbox.request("POST", "/sms/3/messages", json=sms_body(40))
    assert [sandbox.truth(f"m-{i}")["status"] for i in range(40)] != first


def test_intermediate_reports_come_before_the_final_one(sandbox, webhook_sink, sms_body) -> None:
    sandbox.configure(intermediate=True, outcomes="delivered=1", push_delay=30)
    sandbox.request("POST", "/sms/3/messages", json=sms_body(3, url=webhook_sink.url()))
    sandbox.flush()
    results = webhook_sink.wait_for_results(6)
    names = [r["status"]["name"] for r in results if r["messageId"] == "m-1"]
    assert names == ["DELIVERED_TO_OPERATOR", "DELIVERED_TO_HANDSET"]
    for push in webhook_sink.bodies():
        _assert_valid(SMS_DLR, push)


def test_pull_returns_each_report_once(sandbox, sms_body) -> None:
    sandbox.request("POST", "/sms/3/messages", json=sms_body(5))
    sandbox.flush()
    first = sandbox.request("GET", "/sms/3/reports", params={"limit": 3}).json()
    _assert_valid(response_validator("get", "/sms/3/reports"), first)
    rest = sandbox.request("GET", "/sms/3/reports").json()
    again = sandbox.request("GET", "/sms/3/reports").json()
    ids = [r["messageId"] for r in first["results"] + rest["results"]]
    assert sorted(ids) == [f"m-{i}" for i in range(5)]
    assert len(first["results"]) == 3
    assert again["results"] == []
    # The Messages API endpoint has its own once-only queue, across channels.
    ma = sandbox.request("GET", "/messages-api/1/reports", params={"channel": "SMS"}).json()
    _assert_valid(response_validator("get", "/messages-api/1/reports"), ma)
    assert sorted(r["messageId"] for r in ma["results"]) == sorted(ids)
    assert sandbox.request("GET", "/messages-api/1/reports").json()["results"] == []


def test_pull_filters_by_message_id(sandbox, sms_body) -> None:
    sandbox.request("POST", "/sms/3/messages", json=sms_body(4))
    sandbox.flush()
    one = sandbox.request("GET", "/sms/3/reports", params={"messageId": "m-2"}).json()
    assert [r["messageId"] for r in one["results"]] == ["m-2"]
    rest = sandbox.request("GET", "/sms/3/reports").json()
    assert sorted(r["messageId"] for r in rest["results"]) == ["m-0", "m-1", "m-3"]


def test_logs_show_the_current_status(sandbox, sms_body) -> None:
    sandbox.configure(push_delay=30, outcomes="expired=1")
    sandbox.request("POST", "/sms/3/messages", json=sms_body(2))
    pending = sandbox.request("GET", "/sms/3/logs", params={"messageId": "m-1"}).json()
    _assert_valid(response_validator("get", "/sms/3/logs"), pending)
    (log,) = pending["results"]
    assert log["status"]["name"] == "PENDING_ACCEPTED"
    assert log["destination"] == "447900000001"
    assert log["content"] == {"text": "Hello 1, spring offers are here"}
    sandbox.flush()
    done = sandbox.request("GET", "/sms/3/logs", params={"messageId": "m-1,m-0"}).json()
    assert {r["status"]["name"] for r in done["results"]} == {"EXPIRED_EXPIRED"}
    assert len(done["results"]) == 2


def test_whatsapp_reports_seen_and_not_on_whatsapp_with_sms_failover(sandbox, webhook_sink) -> None:
    sandbox.configure(seen_rate=1, outcomes="delivered=1", not_on_whatsapp=0.5)
    body = example("whatsapp_send_template_request_sms_failover")
    template = body["messages"][0]
    template["content"] = {
        "templateName": "order_update",
        "language": "en",
        "templateData": {"body": {"placeholders": ["A-1", "Fri"]}},
    }
    body["messages"] = [
        {**template, "to": f"4479{i:08d}", "messageId": f"wa-{i}", "notifyUrl": webhook_sink.url()}
        for i in range(20)
    ]
    assert sandbox.request("POST", "/whatsapp/1/message/template", json=body).status_code == 200
    truths = {f"wa-{i}": sandbox.truth(f"wa-{i}") for i in range(20)}
    lost = {k for k, t in truths.items() if t["error"] == "EC_UNKNOWN_USER"}
    reached = set(truths) - lost
    assert lost
    assert reached
    sandbox.flush()
    results = webhook_sink.wait_for_results(len(reached) * 2 + len(lost) * 2)
    dlrs = [r for r in results if "status" in r and "sender" not in r]
    seen = [r for r in results if "seenAt" in r]
    failover = [r for r in results if "sender" in r]
    for push in webhook_sink.bodies():
        _assert_valid(WA_DLR if "status" in push["results"][0] else WA_SEEN, push)
    assert {r["messageId"] for r in dlrs} == set(truths)
    assert {r["messageId"] for r in seen} == reached
    for report in dlrs:
        if report["messageId"] in lost:
            assert report["status"]["name"] == "UNDELIVERABLE_NOT_DELIVERED"
            assert report["error"]["name"] == "EC_UNKNOWN_USER"
            assert report["error"]["permanent"]
        else:
            assert report["status"]["name"] == "DELIVERED_TO_HANDSET"
    # The failover SMS is reported after the WhatsApp failure, as an SMS v3 report.
    assert {r["messageId"] for r in failover} == lost
    for report in failover:
        _assert_valid(SMS_DLR, {"results": [report]})
        assert report["sender"] == template["smsFailover"]["from"]
        assert report["status"]["name"] == "DELIVERED_TO_HANDSET"
        assert truths[report["messageId"]]["failover"]["status"] == "DELIVERED_TO_HANDSET"


def test_template_problems_end_undeliverable(sandbox) -> None:
    def send(content: dict) -> dict:
        message = {"from": "447860099299", "to": "447900000001", "content": content}
        answer = sandbox.request(
            "POST", "/whatsapp/1/message/template", json={"messages": [message]}
        ).json()
        return sandbox.truth(answer["messages"][0]["messageId"])

    data = {"body": {"placeholders": ["x"]}}
    pending = send({"templateName": "summer_sale", "language": "en", "templateData": data})
    assert pending["error"] == "EC_INVALID_TEMPLATE"
    assert pending["outcome"] == "undeliverable"
    wrong = send({"templateName": "order_update", "language": "en", "templateData": data})
    assert wrong["error"] == "EC_INVALID_TEMPLATE_ARGS"
    four = {"body": {"placeholders": ["a", "b", "c", "d"]}}
    no_header = send({"templateName": "welcome_offer", "language": "en", "templateData": four})
    assert no_header["error"] == "EC_INVALID_TEMPLATE_ARGS"


def test_duplicates_by_message_id_and_by_recipient_and_callback(sandbox, sms_body) -> None:
    sandbox.request("POST", "/sms/3/messages", json=sms_body(3))
    sandbox.request("POST", "/sms/3/messages", json=sms_body(3))  # the same ids again
    sandbox.request("POST", "/sms/3/messages", json=sms_body(2, prefix="other"))
    duplicates = sandbox.state()["duplicates"]
    assert duplicates == {"messageId": 3, "recipientCallbackData": 5}
    assert sandbox.truth("m-0")["copies"] == 2
