"""The sandbox's Infobip endpoints: auth, 400s in each endpoint's envelope, and response shapes."""

from infobip.sandbox.validation import request_validator

from .conftest import example, response_validator

WRONG_KEY = {"Authorization": "App not-the-key"}


def test_wrong_or_missing_key_gets_401_in_the_endpoints_envelope(sandbox, sms_body) -> None:
    v3 = sandbox.request("POST", "/sms/3/messages", json=sms_body(), headers=WRONG_KEY)
    assert v3.status_code == 401
    assert v3.json()["errorCode"] == "E401"
    assert response_validator("post", "/sms/3/messages", "401").is_valid(v3.json())
    legacy = sandbox.request(
        "GET", "/whatsapp/2/senders/447860099299/templates", headers={"Authorization": ""}
    )
    assert legacy.status_code == 401
    assert legacy.json() == example("error_v2_401")
    control = sandbox.request("GET", "/_sandbox/state", headers=WRONG_KEY)
    assert control.status_code == 401
    assert sandbox.state()["accepted"]["total"] == 0


def test_invalid_sms_body_gets_400_listing_the_spec_violations(sandbox) -> None:
    body = {"messages": [{"destinations": [{"to": 41793026727}]}]}
    response = sandbox.request("POST", "/sms/3/messages", json=body)
    assert response.status_code == 400
    answer = response.json()
    assert response_validator("post", "/sms/3/messages", "400").is_valid(answer)
    assert answer["errorCode"] == "E400"
    expected = request_validator("post", "/sms/3/messages").violations(body)
    assert answer["violations"] == [
        {"property": v.property, "violation": v.violation} for v in expected
    ]
    assert {v["property"] for v in answer["violations"]} == {
        "messages[0]",
        "messages[0].destinations[0].to",
    }
    assert sandbox.state()["accepted"]["total"] == 0


def test_invalid_whatsapp_body_gets_the_legacy_envelope(sandbox) -> None:
    body = {"from": "447860099299", "to": "447900000001", "content": {"text": ""}}
    response = sandbox.request("POST", "/whatsapp/1/message/text", json=body)
    assert response.status_code == 400
    exception = response.json()["requestError"]["serviceException"]
    assert exception["messageId"] == "BAD_REQUEST"
    assert exception["validationErrors"] == {"content.text": ["'' should be non-empty"]}


def test_malformed_json_and_unknown_paths(sandbox) -> None:
    bad = sandbox.request("POST", "/sms/3/messages", data=b"{nope")
    assert bad.status_code == 400
    assert bad.json()["violations"][0]["violation"].startswith("Malformed JSON")
    assert sandbox.request("GET", "/sms/9/nothing").status_code == 404
    assert sandbox.request("GET", "/sms/3/messages").status_code == 405


def test_sms_send_echoes_our_ids_and_generates_missing_ones(sandbox) -> None:
    body = example("sms_send_request_v3_full")
    body["options"]["includeSmsCountInResponse"] = True
    del body["messages"][1:]
    body["messages"][0]["destinations"] = [
        {"to": "447900000001", "messageId": "ours-1"},
        {"to": "447900000002"},
    ]
    body["messages"][0]["content"] = {"text": "x" * 161}
    response = sandbox.request("POST", "/sms/3/messages", json=body)
    assert response.status_code == 200
    answer = response.json()
    assert response_validator("post", "/sms/3/messages").is_valid(answer)
    first, second = answer["messages"]
    assert first["messageId"] == "ours-1"
    assert second["messageId"]
    assert second["messageId"] != "ours-1"
    assert first["status"]["name"] == "PENDING_ACCEPTED"
    assert first["status"]["id"] == 26
    assert first["details"] == {"messageCount": 2}  # 161 GSM-7 characters → 2 parts
    assert answer["bulkId"] == body["options"]["schedule"]["bulkId"]
    assert sandbox.truth("ours-1")["to"] == "447900000001"
    assert sandbox.state()["accepted"] == {"total": 2, "sms": 2, "whatsapp": 0}


def test_whatsapp_sends_answer_pending_enroute(sandbox) -> None:
    text = sandbox.request(
        "POST", "/whatsapp/1/message/text", json=example("whatsapp_send_text_request")
    )
    assert text.status_code == 200
    assert response_validator("post", "/whatsapp/1/message/text").is_valid(text.json())
    assert text.json()["status"]["name"] == "PENDING_ENROUTE"
    bulk = example("whatsapp_send_template_request_bulk")
    template = sandbox.request("POST", "/whatsapp/1/message/template", json=bulk)
    assert template.status_code == 200
    answer = template.json()
    assert response_validator("post", "/whatsapp/1/message/template").is_valid(answer)
    assert answer["bulkId"] == bulk["bulkId"]
    assert [m["messageId"] for m in answer["messages"]] == [
        m["messageId"] for m in bulk["messages"]
    ]


def test_templates_list_has_the_demo_set_in_the_spec_shape(sandbox) -> None:
    response = sandbox.request("GET", "/whatsapp/2/senders/447860099299/templates")
    assert response.status_code == 200
    answer = response.json()
    validator = response_validator("get", "/whatsapp/2/senders/{sender}/templates")
    assert list(validator.iter_errors(answer)) == []
    statuses = {t["name"]: t["status"] for t in answer["templates"]}
    assert statuses["summer_sale"] == "PENDING"
    assert statuses["winter_promo"] == "FIRST_PAUSED"
    welcome = next(t for t in answer["templates"] if t["name"] == "welcome_offer")
    assert "{{1}}" in welcome["structure"]["header"]["text"]
    assert "{{4}}" in welcome["structure"]["body"]["text"]
    assert any("{{1}}" in b.get("url", "") for b in welcome["structure"]["buttons"])


def test_preview_counts_parts_per_encoding(sandbox) -> None:
    def preview(text: str) -> dict:
        response = sandbox.request("POST", "/sms/1/preview", json={"text": text})
        assert response.status_code == 200
        return response.json()["previews"][0]

    assert preview("a" * 160)["messageCount"] == 1
    assert preview("a" * 161)["messageCount"] == 2
    assert preview("€" * 80)["messageCount"] == 1  # extension characters take two septets
    assert preview("€" * 81)["messageCount"] == 2
    assert preview("ж" * 70) == {
        "textPreview": "ж" * 70,
        "messageCount": 1,
        "charactersRemaining": 0,
        "configuration": {},
    }
    assert preview("ж" * 71)["messageCount"] == 2


def test_inbound_configurations_crud(sandbox) -> None:
    path = "/resource-management/1/inbound-message-configurations"
    body = {
        "channel": "SMS",
        "number": "447860099299",
        "keyword": "STOP",
        "forwarding": {"type": "HTTP_FORWARD", "url": "http://127.0.0.1:9/x"},
    }
    created = sandbox.request("POST", path, json=body)
    assert created.status_code == 200
    key = created.json()["configurationKey"]
    listed = sandbox.request("GET", path, params={"channel": "SMS"}).json()
    assert list(response_validator("get", path).iter_errors(listed)) == []
    assert [c["configurationKey"] for c in listed] == [key]
    assert sandbox.request("DELETE", f"{path}/{key}").status_code == 204
    assert sandbox.request("DELETE", f"{path}/{key}").status_code == 404
    assert sandbox.request("GET", path).json() == []
