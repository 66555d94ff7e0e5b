"""The client's contract against the live sandbox: every method, success and each error kind.

The `responses` tests prove the client against Infobip's published examples; these prove the
same client against a server that validates every request with the official OpenAPI documents.
"""

import pytest

from infobip.client import InfobipClient
from infobip.errors import (
    InfobipAuthError,
    InfobipOutcomeUnknownError,
    InfobipThrottledError,
    InfobipValidationError,
)
from infobip.types import SmsMessage, WhatsAppTemplateMessage

SENDER = "447860099299"


@pytest.fixture
def api(sandbox) -> InfobipClient:
    return InfobipClient(sandbox.url, sandbox.api_key, backoff_factor=0, max_retries=0)


def test_sms_send_logs_and_reports_pulled_once(api, sandbox) -> None:
    messages = [
        SmsMessage(to="447946000001", text="Hi", message_id="c-1", sender="Herald"),
        SmsMessage(to="447946000002", text="Hi", message_id="c-2", sender="Herald"),
        SmsMessage(to="447946000003", text="Hi 😀", message_id="c-3", sender="Herald"),
    ]
    result = api.send_sms(messages, bulk_id="contract-bulk")
    assert {m.message_id for m in result.messages} == {"c-1", "c-2", "c-3"}
    assert {m.status.name for m in result.messages} == {"PENDING_ACCEPTED"}
    logs = api.get_sms_logs(message_ids=["c-1", "c-3"])
    assert sorted(log.message_id for log in logs) == ["c-1", "c-3"]
    assert sandbox.flush() == 0
    reports = api.get_sms_reports()
    assert sorted(r.message_id for r in reports) == ["c-1", "c-2", "c-3"]
    truth = {r.message_id: sandbox.truth(r.message_id)["status"] for r in reports}
    assert {r.message_id: r.status.name for r in reports} == truth
    assert api.get_sms_reports() == []  # each report is returned once


def test_preview_counts_parts(api) -> None:
    previews = api.preview_sms("Hi 😀" * 40)
    assert previews
    assert previews[0].message_count == 3


def test_whatsapp_templates_text_and_reports(api, sandbox) -> None:
    templates = {t["name"]: t for t in api.list_whatsapp_templates(SENDER)}
    assert templates["plain_hello"]["status"] == "APPROVED"
    assert templates["summer_sale"]["status"] == "PENDING"
    template = WhatsAppTemplateMessage(
        to="447946000010",
        sender=SENDER,
        template_name="bienvenida",
        language="es",
        message_id="wa-1",
        body_placeholders=["Ana"],
    )
    sent = api.send_whatsapp_templates([template])
    assert [m.message_id for m in sent.messages] == ["wa-1"]
    text = api.send_whatsapp_text(sender=SENDER, to="447946000011", text="Hi", message_id="wa-2")
    assert text.message_id == "wa-2"
    assert sandbox.flush() == 0
    reports = api.get_messages_api_reports(channel="WHATSAPP")
    assert {r.message_id for r in reports} >= {"wa-1", "wa-2"}


def test_inbound_sms_pull(api, sandbox) -> None:
    sandbox.inbound("sms", "447946000020", "STOP please", to="447860099299")
    (inbound,) = api.get_inbound_sms()
    assert (inbound.from_, inbound.text, inbound.keyword) == ("447946000020", "STOP please", "STOP")
    assert api.get_inbound_sms() == []


def test_credentials_checked_and_wrong_key_refused(api, sandbox) -> None:
    api.check_credentials()
    wrong = InfobipClient(sandbox.url, "not-the-key", backoff_factor=0, max_retries=0)
    with pytest.raises(InfobipAuthError) as caught:
        wrong.check_credentials()
    assert caught.value.status_code == 401
    assert "not-the-key" not in repr(wrong) + str(caught.value)


def test_invalid_body_is_a_validation_error_with_violations(api) -> None:
    with pytest.raises(InfobipValidationError) as caught:
        api.send_whatsapp_text(sender=SENDER, to="447946000030", text="", message_id="bad-1")
    assert caught.value.status_code == 400
    assert any("text" in v.property for v in caught.value.violations)


def test_throttled_with_retry_after(api, sandbox) -> None:
    sandbox.configure(rate_429=1.0, retry_after_share=1.0, retry_after_seconds=1)
    with pytest.raises(InfobipThrottledError) as caught:
        api.send_sms([SmsMessage(to="447946000040", text="Hi", message_id="t-1")])
    assert caught.value.retry_after == 1
    assert sandbox.state()["accepted"]["total"] == 0


def test_dropped_connection_after_the_request_was_read_is_outcome_unknown(api, sandbox) -> None:
    sandbox.configure(drop_after_read=1.0)
    with pytest.raises(InfobipOutcomeUnknownError):
        api.send_sms([SmsMessage(to="447946000050", text="Hi", message_id="d-1")])
    # Infobip (the sandbox) did take it: exactly why Herald must reconcile, not resend.
    assert sandbox.state()["accepted"]["total"] == 1
    sandbox.configure(drop_after_read=0.0)
    assert [log.message_id for log in api.get_sms_logs(message_ids=["d-1"])] == ["d-1"]
