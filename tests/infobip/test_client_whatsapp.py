"""WhatsApp and Messages API endpoints against `responses`, answered with Infobip's examples."""

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from infobip.errors import InfobipOutcomeUnknownError
from infobip.types import WhatsAppTemplateMessage
from tests.infobip.conftest import BASE_URL, example, spec_example


def _body(call) -> dict:
    return json.loads(call.request.body)


def _template(n: int, **extra) -> WhatsAppTemplateMessage:
    return WhatsAppTemplateMessage(
        to=f"44113496000{n}",
        sender="441134960000",
        template_name="spring_sale",
        language="en_GB",
        message_id=f"wa-{n}",
        body_placeholders=[f"Name {n}", "20%"],
        **extra,
    )


def test_send_whatsapp_text_builds_the_body_and_parses_the_answer(api, mocked) -> None:
    mocked.post(f"{BASE_URL}/whatsapp/1/message/text", json=example("whatsapp_send_text_response"))

    sent = api.send_whatsapp_text(
        sender="441134960000",
        to="441134960001",
        text="See https://example.com",
        message_id="wa-1",
        callback_data="cb",
        notify_url="https://herald.example.com/hook",
        preview_url=True,
    )

    assert _body(mocked.calls[0]) == {
        "from": "441134960000",
        "to": "441134960001",
        "messageId": "wa-1",
        "content": {"text": "See https://example.com", "previewUrl": True},
        "callbackData": "cb",
        "notifyUrl": "https://herald.example.com/hook",
    }
    assert (sent.message_id, sent.to, sent.message_count) == (
        "a28dd97c-1ffb-4fcf-99f1-0b557ed381da",
        "441134960001",
        1,
    )
    assert sent.status.name == "PENDING_ENROUTE"


def test_send_whatsapp_text_answer_without_message_id_is_outcome_unknown(api, mocked) -> None:
    mocked.post(f"{BASE_URL}/whatsapp/1/message/text", json={})
    with pytest.raises(InfobipOutcomeUnknownError):
        api.send_whatsapp_text(sender="4411", to="4412", text="x", message_id="wa-1")


def test_send_whatsapp_templates_in_bulk_with_failover(api, mocked) -> None:
    mocked.post(
        f"{BASE_URL}/whatsapp/1/message/template",
        json=example("whatsapp_send_template_response"),
    )
    messages = [
        _template(1, callback_data="c1", notify_url="https://h.example.com/wa"),
        _template(
            2,
            header={"type": "TEXT", "placeholder": "Spring"},
            buttons=[{"type": "QUICK_REPLY", "parameter": "STOP"}],
            sms_failover=("Herald", "Spring sale: 20% off"),
        ),
    ]

    result = api.send_whatsapp_templates(messages, bulk_id="bulk-wa")

    sent = _body(mocked.calls[0])
    assert sent["bulkId"] == "bulk-wa"
    first, second = sent["messages"]
    assert first == {
        "from": "441134960000",
        "to": "441134960001",
        "messageId": "wa-1",
        "content": {
            "templateName": "spring_sale",
            "templateData": {"body": {"placeholders": ["Name 1", "20%"]}},
            "language": "en_GB",
        },
        "callbackData": "c1",
        "notifyUrl": "https://h.example.com/wa",
    }
    assert second["content"]["templateData"]["header"] == {"type": "TEXT", "placeholder": "Spring"}
    assert second["content"]["templateData"]["buttons"] == [
        {"type": "QUICK_REPLY", "parameter": "STOP"}
    ]
    assert second["smsFailover"] == {"from": "Herald", "text": "Spring sale: 20% off"}
    assert result.bulk_id == "2034072219640523073"
    assert [(m.message_id, m.to) for m in result.messages] == [
        ("a28dd97c-1ffb-4fcf-99f1-0b557ed381da", "441134960001")
    ]


def test_template_with_no_placeholders_sends_an_empty_list(api, mocked) -> None:
    mocked.post(
        f"{BASE_URL}/whatsapp/1/message/template",
        json=example("whatsapp_send_template_response"),
    )
    message = WhatsAppTemplateMessage(
        to="4412", sender="4411", template_name="hello", language="en", message_id="wa-1"
    )
    api.send_whatsapp_templates([message])
    sent = _body(mocked.calls[0])
    assert sent["messages"][0]["content"]["templateData"] == {"body": {"placeholders": []}}
    assert "bulkId" not in sent


def test_list_whatsapp_templates_returns_the_raw_templates(api, mocked) -> None:
    answer = example("whatsapp_templates_list_response")
    mocked.get(f"{BASE_URL}/whatsapp/2/senders/441134960000/templates", json=answer)

    templates = api.list_whatsapp_templates("441134960000")

    assert templates == answer["templates"]
    assert templates
    assert templates[0]["name"]
    assert len(mocked.calls) == 1


def test_list_whatsapp_templates_follows_a_cursor_if_one_appears(api, mocked) -> None:
    url = f"{BASE_URL}/whatsapp/2/senders/44%2B1/templates"
    first = {"templates": [{"name": "a"}], "cursor": {"nextCursor": "page-2"}}
    mocked.get(url, json=first, match=[responses.matchers.query_param_matcher({})])
    mocked.get(
        url,
        json={"templates": [{"name": "b"}]},
        match=[responses.matchers.query_param_matcher({"cursor": "page-2"})],
    )

    templates = api.list_whatsapp_templates("44+1")

    assert [t["name"] for t in templates] == ["a", "b"]


def test_get_messages_api_reports_parses_the_spec_example(api, mocked) -> None:
    mocked.get(
        f"{BASE_URL}/messages-api/1/reports", json=spec_example("GET", "/messages-api/1/reports")
    )

    [report] = api.get_messages_api_reports(limit=20)

    query = parse_qs(urlsplit(mocked.calls[0].request.url).query)
    assert query == {"channel": ["WHATSAPP"], "limit": ["20"]}
    assert (report.message_id, report.to, report.sender, report.channel, report.event) == (
        "ABEGVUGWh3gEAgo-sLTvmQCS5kwjhsy",
        "41793026727",
        "senderNumber",
        "WHATSAPP",
        "DELIVERY",
    )
    assert report.done_at == datetime(2024, 2, 6, 17, 18, 29, 797000, tzinfo=UTC)
    assert report.status.group_name == "DELIVERED"
