"""Every client method against each of Infobip's error envelopes, mapped to typed errors."""

import socket

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError

from infobip.errors import (
    InfobipAuthError,
    InfobipConnectionError,
    InfobipError,
    InfobipOutcomeUnknownError,
    InfobipServerError,
    InfobipThrottledError,
    InfobipUnexpectedResponseError,
    InfobipValidationError,
    is_transient,
)
from infobip.openapi import Violation
from infobip.types import SmsMessage, WhatsAppTemplateMessage
from tests.infobip.conftest import BASE_URL, example

TEMPLATE = WhatsAppTemplateMessage(
    to="4412", sender="4411", template_name="t", language="en", message_id="wa-1"
)
# (name, HTTP method, path, call, is a send)
CALLS = [
    ("send_sms", "POST", "/sms/3/messages",
     lambda c: c.send_sms([SmsMessage(to="41", text="x", message_id="m")]), True),
    ("get_sms_reports", "GET", "/sms/3/reports", lambda c: c.get_sms_reports(), False),
    ("get_sms_logs", "GET", "/sms/3/logs", lambda c: c.get_sms_logs(message_ids=["m"]), False),
    ("preview_sms", "POST", "/sms/1/preview", lambda c: c.preview_sms("hi"), False),
    ("get_inbound_sms", "GET", "/sms/1/inbox/reports", lambda c: c.get_inbound_sms(), False),
    ("send_whatsapp_text", "POST", "/whatsapp/1/message/text",
     lambda c: c.send_whatsapp_text(sender="4411", to="4412", text="x", message_id="w"), True),
    ("send_whatsapp_templates", "POST", "/whatsapp/1/message/template",
     lambda c: c.send_whatsapp_templates([TEMPLATE]), True),
    ("list_whatsapp_templates", "GET", "/whatsapp/2/senders/4411/templates",
     lambda c: c.list_whatsapp_templates("4411"), False),
    ("get_messages_api_reports", "GET", "/messages-api/1/reports",
     lambda c: c.get_messages_api_reports(), False),
    ("check_credentials", "GET", "/sms/3/logs", lambda c: c.check_credentials(), False),
]  # fmt: skip
EACH_CALL = pytest.mark.parametrize(
    ("name", "method", "path", "call", "is_send"), CALLS, ids=[c[0] for c in CALLS]
)
# (example file, HTTP status, error type, error code, violations)
ENVELOPES = [
    ("error_v2_400", 400, InfobipValidationError, "BAD_REQUEST", []),
    ("error_v2_400_validation", 400, InfobipValidationError, "BAD_REQUEST", [
        Violation("content.text", "size must be between 1 and 4096"),
        Violation("content.text", "must not be blank")]),
    ("error_v2_401", 401, InfobipAuthError, "UNAUTHORIZED", []),
    ("error_v2_429", 429, InfobipThrottledError, "TOO_MANY_REQUESTS", []),
    ("error_v2_500", 500, InfobipServerError, "GENERAL_ERROR", []),
    ("error_v3_400", 400, InfobipValidationError, "E400",
     [Violation("property.path", "Violation message.")]),
    ("error_v3_401", 401, InfobipAuthError, "E401", []),
    ("error_v3_429", 429, InfobipThrottledError, "E429", []),
]  # fmt: skip


@EACH_CALL
@pytest.mark.parametrize(
    ("file", "status", "error_type", "code", "violations"), ENVELOPES, ids=[e[0] for e in ENVELOPES]
)
def test_every_method_maps_every_error_envelope(
    api, mocked, name, method, path, call, is_send, file, status, error_type, code, violations
) -> None:
    body = example(file)
    mocked.add(method, f"{BASE_URL}{path}", json=body, status=status)

    with pytest.raises(error_type) as caught:
        call(api)

    error = caught.value
    assert (error.status_code, error.error_code, error.violations) == (status, code, violations)
    expected_text = body.get("description") or body["requestError"]["serviceException"]["text"]
    assert error.description == expected_text
    assert is_transient(error) == (status in (429, 500))


@EACH_CALL
def test_every_method_maps_403_without_a_body_to_auth_error(
    api, mocked, name, method, path, call, is_send
) -> None:
    mocked.add(method, f"{BASE_URL}{path}", body="", status=403)
    with pytest.raises(InfobipAuthError) as caught:
        call(api)
    assert caught.value.status_code == 403
    assert not is_transient(caught.value)


@EACH_CALL
def test_every_method_handles_an_html_answer(api, mocked, name, method, path, call, is_send):
    mocked.add(method, f"{BASE_URL}{path}", body="<html>welcome</html>", status=200)
    # A send answered with something unreadable may still have been accepted: reconcile.
    expected = InfobipOutcomeUnknownError if is_send else InfobipUnexpectedResponseError
    with pytest.raises(expected):
        call(api)


@EACH_CALL
def test_gateway_timeout_on_a_send_is_outcome_unknown(
    api, mocked, name, method, path, call, is_send
):
    mocked.add(method, f"{BASE_URL}{path}", body="upstream timed out", status=504)
    expected = InfobipOutcomeUnknownError if is_send else InfobipServerError
    with pytest.raises(expected) as caught:
        call(api)
    assert caught.value.status_code == 504


def test_throttled_error_carries_retry_after(api, mocked) -> None:
    mocked.get(
        f"{BASE_URL}/sms/3/reports",
        json=example("error_v3_429"),
        status=429,
        headers={"Retry-After": "7"},
    )
    with pytest.raises(InfobipThrottledError) as caught:
        api.get_sms_reports()
    assert caught.value.retry_after == 7.0


def test_not_found_html_is_a_validation_error_with_a_readable_description(api, mocked):
    mocked.get(f"{BASE_URL}/sms/3/reports", body="<h1>Not   Found</h1>", status=404)
    with pytest.raises(InfobipValidationError) as caught:
        api.get_sms_reports()
    assert "Not Found" in caught.value.description
    assert caught.value.error_code is None


def test_redirect_is_not_followed(api, mocked) -> None:
    mocked.get(
        f"{BASE_URL}/sms/3/logs", status=301, headers={"Location": "https://elsewhere.example/"}
    )
    with pytest.raises(InfobipUnexpectedResponseError) as caught:
        api.check_credentials()
    assert "https://elsewhere.example/" in str(caught.value)
    assert len(mocked.calls) == 1


def test_check_credentials_rejects_json_that_is_not_infobip(api, mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/3/logs", json={"hello": "world"})
    with pytest.raises(InfobipUnexpectedResponseError):
        api.check_credentials()


def test_dns_failure_is_a_connection_error_naming_the_host(api, mocked) -> None:
    reason = NameResolutionError("acme.api.infobip.com", None, socket.gaierror(-2, "unknown"))
    failure = requests.ConnectionError(MaxRetryError(None, f"{BASE_URL}/sms/3/logs", reason))
    mocked.get(f"{BASE_URL}/sms/3/logs", body=failure)
    with pytest.raises(InfobipConnectionError) as caught:
        api.check_credentials()
    assert "could not resolve host 'acme.api.infobip.com'" in caught.value.description
    assert is_transient(caught.value)


def test_error_str_lists_code_status_and_violations() -> None:
    error = InfobipValidationError(
        "Bad request",
        status_code=400,
        error_code="BAD_REQUEST",
        violations=[Violation("content.text", "must not be blank")],
    )
    assert str(error) == "HTTP 400 BAD_REQUEST: Bad request (content.text: must not be blank)"
    assert isinstance(error, InfobipError)
    assert "BAD_REQUEST" in repr(error)
