"""`POST /api/v1/infobip/request`: the custom call for connectors (scope, audit, no sends)."""

import re

import pytest

from core.models import AuditEntry
from infobip.custom import custom_call_refusal
from infobip.openapi import load
from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    user = make_user("ops")
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def on_sandbox(sandbox, settings):
    settings.INFOBIP_SANDBOX_URL = sandbox.url
    settings.INFOBIP_SANDBOX_API_KEY = sandbox.api_key
    return sandbox


def test_a_call_answers_infobip_s_status_and_json_and_is_audited(api_for, staff, on_sandbox):
    api = api_for(staff, ["infobip:request"])
    call = {"method": "GET", "path": "/sms/3/logs", "query": {"limit": "1"}}
    response = api.post("infobip/request", call)
    assert response.status_code == 200, response.content
    assert response.json() == {"status": 200, "body": {"results": []}}
    preview = api.post(
        "infobip/request", {"method": "POST", "path": "/sms/1/preview", "body": {"text": "Hello"}}
    )
    assert preview.json()["body"]["previews"][0]["messageCount"] == 1
    # An Infobip error is an answer: its status and its body, not Herald's error shape.
    missing = api.post("infobip/request", {"method": "GET", "path": "/sms/9/nothing"})
    assert missing.status_code == 200
    assert missing.json()["status"] == 404
    details = list(
        AuditEntry.objects.filter(action="infobip_request").values_list("detail", flat=True)
    )
    assert sorted(details) == [
        "GET /sms/3/logs → 200",
        "GET /sms/9/nothing → 404",
        "POST /sms/1/preview → 200",
    ]
    assert on_sandbox.api_key not in response.content.decode()


def test_message_sends_are_refused_and_nothing_is_sent(api_for, staff, on_sandbox):
    api = api_for(staff, ["infobip:request"])
    body = {"messages": [{"destinations": [{"to": "41793026727"}], "content": {"text": "Hi"}}]}
    for path in [
        "/sms/3/messages",
        "/whatsapp/1/message/template",
        "/messages-api/1/messages",
        "/viber/2/messages",
        "/sms/1/text/single",
        "/SMS/3/messages",
    ]:
        response = api.post("infobip/request", {"method": "POST", "path": path, "body": body})
        assert response.status_code == 400, path
        assert response.json()["error"]["code"] == "refused"
        assert "POST /api/v1/messages" in response.json()["error"]["message"]
    for path in [
        "/sms/3/logs/../messages",
        "/sms//3/messages",
        "/sms/3/logs?x=1",
        "sms/3/logs",
        "/sms/%33/messages",
    ]:
        response = api.post("infobip/request", {"method": "POST", "path": path, "body": body})
        assert response.status_code == 400, path
    assert on_sandbox.state()["accepted"]["total"] == 0
    assert not AuditEntry.objects.filter(action="infobip_request").exists()


def test_every_documented_send_operation_is_refused():
    refused = 0
    for product in ("sms", "whatsapp", "messages-api"):
        for path, item in load(product)["paths"].items():
            for method, op in item.items():
                if method.upper() != "GET" and re.match(r"(?i)send\b.*\bmessage", op["summary"]):
                    concrete = path.replace("{", "x").replace("}", "")
                    assert custom_call_refusal(method.upper(), concrete), (method, path)
                    refused += 1
    assert refused >= 20
    assert custom_call_refusal("POST", "/messages-api/1/messages/validate") is None
    assert (
        custom_call_refusal("POST", "/resource-management/1/inbound-message-configurations") is None
    )


def test_the_scope_and_staff_are_needed(api_for, staff, on_sandbox):
    call = {"method": "GET", "path": "/sms/3/logs"}
    assert api_for(staff, ["read"]).post("infobip/request", call).status_code == 403
    marketer = make_user("mia")
    refused = api_for(marketer, ["infobip:request"]).post("infobip/request", call)
    assert refused.status_code == 403
    assert "only staff" in refused.json()["error"]["message"]
