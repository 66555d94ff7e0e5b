"""SMS endpoints against `responses`, answered with Infobip's own examples."""

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import responses

from infobip.client import ID_LIST_MAX_CHARS, comma_chunks
from infobip.types import SmsMessage
from tests.infobip.conftest import BASE_URL, example, spec_example


def _query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def _body(call) -> dict:
    return json.loads(call.request.body)


def test_send_sms_groups_identical_texts_and_parses_the_v3_answer(api, mocked) -> None:
    mocked.post(f"{BASE_URL}/sms/3/messages", json=example("sms_send_response_v3"))
    messages = [
        SmsMessage(to="41793026727", text="Hello", message_id="m-1", sender="Herald"),
        SmsMessage(to="41793026834", text="Other", message_id="m-2", sender="Herald"),
        SmsMessage(to="41435675123", text="Hello", message_id="m-3", sender="Herald"),
    ]

    result = api.send_sms(messages, bulk_id="bulk-7")

    sent = _body(mocked.calls[0])
    assert [entry["content"]["text"] for entry in sent["messages"]] == ["Hello", "Other"]
    assert sent["messages"][0]["destinations"] == [
        {"to": "41793026727", "messageId": "m-1"},
        {"to": "41435675123", "messageId": "m-3"},
    ]
    assert sent["options"] == {"schedule": {"bulkId": "bulk-7"}, "includeSmsCountInResponse": True}
    request = mocked.calls[0].request
    assert request.headers["Authorization"].startswith("App ")
    assert request.headers["Content-Type"] == "application/json"
    assert result.bulk_id == "2034072219640523072"
    assert [(m.message_id, m.to, m.message_count) for m in result.messages] == [
        ("2250be2d4219-3af1-78856-aabe-1362af1edfd2", "41793026727", 1),
        ("3350be2d4219-3af1-23343-bbbb-1362af1edfd3", "41435675123", 1),
    ]
    status = result.messages[0].status
    assert (status.group_id, status.group_name, status.id, status.name) == (
        1,
        "PENDING",
        26,
        "PENDING_ACCEPTED",
    )


def test_send_sms_puts_webhooks_validity_and_campaign_on_the_entry(api, mocked) -> None:
    mocked.post(f"{BASE_URL}/sms/3/messages", json=example("sms_send_response_v3"))
    message = SmsMessage(
        to="41793026727",
        text="Sale",
        message_id="m-1",
        callback_data='{"c":7}',
        notify_url="https://herald.example.com/infobip/webhooks/t/sms/reports/",
        intermediate_report=True,
        validity_period_minutes=120,
        campaign_reference_id="campaign-7",
    )

    api.send_sms([message], tracking={"shortenUrl": True, "trackClicks": False})

    entry = _body(mocked.calls[0])["messages"][0]
    assert "sender" not in entry
    assert entry["webhooks"] == {
        "delivery": {
            "url": "https://herald.example.com/infobip/webhooks/t/sms/reports/",
            "intermediateReport": True,
        },
        "contentType": "application/json",
        "callbackData": '{"c":7}',
    }
    assert entry["options"] == {
        "validityPeriod": {"amount": 120, "timeUnit": "MINUTES"},
        "campaignReferenceId": "campaign-7",
    }
    assert _body(mocked.calls[0])["options"]["tracking"] == {
        "shortenUrl": True,
        "trackClicks": False,
    }


def test_send_sms_messages_differing_in_callback_data_are_separate_entries(api, mocked) -> None:
    mocked.post(f"{BASE_URL}/sms/3/messages", json=example("sms_send_response_v3"))
    api.send_sms(
        [
            SmsMessage(to="1", text="Hi", message_id="a", callback_data="x"),
            SmsMessage(to="2", text="Hi", message_id="b", callback_data="y"),
        ],
        include_sms_count=False,
    )
    sent = _body(mocked.calls[0])
    assert [e["webhooks"]["callbackData"] for e in sent["messages"]] == ["x", "y"]
    assert "options" not in sent


def test_send_sms_with_nothing_to_send_makes_no_request(api, mocked) -> None:
    result = api.send_sms([])
    assert result.messages == []
    assert len(mocked.calls) == 0


def test_get_sms_reports_parses_the_spec_example(api, mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/3/reports", json=spec_example("GET", "/sms/3/reports"))

    reports = api.get_sms_reports(bulk_id="BULK-ID-123-xyz", limit=5000)

    assert _query(mocked.calls[0]) == {"bulkId": ["BULK-ID-123-xyz"], "limit": ["1000"]}
    first = reports[0]
    assert (first.message_id, first.to, first.sender, first.channel) == (
        "MESSAGE-ID-123-xyz",
        "41793026727",
        "InfoSMS",
        "SMS",
    )
    assert first.status.name == "DELIVERED_TO_HANDSET"
    assert first.error is not None
    assert first.error.permanent is False
    assert first.price is not None
    assert first.price.price_per_message == Decimal("0.01")
    assert first.sent_at == datetime(2019, 11, 9, 15, 0, tzinfo=UTC)
    assert first.callback_data == "callbackData"
    assert reports[1].callback_data is None


def test_get_sms_logs_by_message_ids_splits_long_id_lists(api, mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/3/logs", json=spec_example("GET", "/sms/3/logs"))
    ids = [f"herald-{n:06d}-0123456789abcdef0123456789" for n in range(150)]

    logs = api.get_sms_logs(message_ids=ids)

    sent_ids = []
    for call in mocked.calls:
        value = _query(call)["messageId"][0]
        assert len(value) <= ID_LIST_MAX_CHARS
        sent_ids += value.split(",")
    assert sent_ids == ids
    assert len(mocked.calls) > 1
    assert len(logs) == 2 * len(mocked.calls)
    assert (logs[0].message_id, logs[0].to, logs[0].message_count) == (
        "MESSAGE-ID-123-xyz",
        "41793026727",
        1,
    )
    assert logs[0].status.group_name == "DELIVERED"


def test_get_sms_logs_by_bulk_follows_the_cursor_up_to_the_limit(api, mocked) -> None:
    page = spec_example("GET", "/sms/3/logs")
    first = {"bulkId": "b", "limit": "3", "useCursor": "true"}
    second = {"bulkId": "b", "limit": "1", "useCursor": "true", "cursor": "c-2"}
    mocked.get(
        f"{BASE_URL}/sms/3/logs",
        json={**page, "cursor": {"limit": 2, "nextCursor": "c-2"}},
        match=[responses.matchers.query_param_matcher(first)],
    )
    mocked.get(
        f"{BASE_URL}/sms/3/logs",
        json={**page, "cursor": {"limit": 2, "nextCursor": "c-3"}},
        match=[responses.matchers.query_param_matcher(second)],
    )

    logs = api.get_sms_logs(bulk_id="b", limit=3)

    assert len(mocked.calls) == 2
    assert len(logs) == 4  # Infobip may return a full page; the loop stops once the limit is met


def test_get_sms_logs_stops_when_no_cursor_comes_back(api, mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/3/logs", json=spec_example("GET", "/sms/3/logs"))
    assert len(api.get_sms_logs(limit=1000)) == 2
    assert len(mocked.calls) == 1


def test_comma_chunks_dedupes_and_respects_the_limit() -> None:
    chunks = list(comma_chunks(["aaa", "bb", "aaa", "cccc", "d"], 7))
    assert chunks == ["aaa,bb", "cccc,d"]
    assert all(len(c) <= 7 for c in chunks)


def test_preview_sms_returns_each_configuration(api, mocked) -> None:
    answer = spec_example(
        "POST", "/sms/1/preview", name="Preview response for request with message language"
    )
    mocked.post(f"{BASE_URL}/sms/1/preview", json=answer)

    previews = api.preview_sms("Mesaj gönderimi", language_code="TR")

    assert _body(mocked.calls[0]) == {"text": "Mesaj gönderimi", "languageCode": "TR"}
    assert [(p.message_count, p.characters_remaining) for p in previews] == [(2, 36), (1, 57)]
    assert previews[1].configuration == {"language": {"languageCode": "TR"}}


def test_get_inbound_sms_parses_the_spec_example(api, mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/1/inbox/reports", json=spec_example("GET", "/sms/1/inbox/reports"))

    [inbound] = api.get_inbound_sms(limit=10)

    assert _query(mocked.calls[0]) == {"limit": ["10"]}
    assert (inbound.from_, inbound.to, inbound.keyword, inbound.clean_text) == (
        "385916242493",
        "385921004026",
        "QUIZ",
        "Correct answer is Paris",
    )
    assert inbound.received_at == datetime(2019, 11, 9, 16, 0, tzinfo=timezone(timedelta(0)))
    assert inbound.price is not None
    assert inbound.price.price_per_message == Decimal("0")


def test_check_credentials_reads_one_log_line(api, mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/3/logs", json={"results": []})
    api.check_credentials()
    assert _query(mocked.calls[0]) == {"limit": ["1"]}
