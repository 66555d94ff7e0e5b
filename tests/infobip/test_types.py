"""Typed results parse every report shape Infobip publishes, and what the examples do not show."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from infobip.types import (
    DeliveryReport,
    InboundSms,
    MessageError,
    Price,
    SendResult,
    SentMessage,
    SmsLog,
    SmsPreview,
    Status,
    parse_timestamp,
)
from tests.infobip.conftest import example


def test_sms_v3_push_report() -> None:
    item = example("sms_dlr_push_v3")["results"][0]
    report = DeliveryReport.from_dict(item)
    assert report.message_id == item["messageId"]
    assert report.to == item["to"]
    assert report.sender == item["sender"]
    assert report.message_count == item["messageCount"]
    assert report.channel == "SMS"
    assert report.status.group_name == item["status"]["groupName"].upper()
    assert report.raw == item


def test_sms_v2_push_report_uses_from_and_sms_count() -> None:
    item = example("sms_dlr_push_v2")["results"][0]
    report = DeliveryReport.from_dict(item)
    assert report.sender is None  # the published example has no `from`
    assert DeliveryReport.from_dict({**item, "from": "InfoSMS"}).sender == "InfoSMS"
    assert report.message_count == item["smsCount"]
    assert report.error is not None
    assert report.error.group_name == "OK"  # the example says "Ok"
    assert report.done_at is not None
    assert report.done_at.tzinfo is not None


def test_whatsapp_push_report_with_empty_bulk_id_and_negative_offset() -> None:
    item = example("whatsapp_dlr_push")["results"][0]
    report = DeliveryReport.from_dict(item, channel="WHATSAPP")
    assert report.channel == "WHATSAPP"
    assert report.bulk_id is None
    assert report.sender is None
    assert report.sent_at is not None
    assert report.sent_at.utcoffset() == timedelta(hours=-3)


def test_messages_api_push_report_uses_destination_channel_and_event() -> None:
    item = example("messages_api_dlr_push")["results"][0]
    report = DeliveryReport.from_dict(item)
    assert report.to == item["destination"]
    assert report.channel == item["channel"].upper()
    assert report.event == item["event"]


def test_report_tolerates_missing_fields_and_odd_casing() -> None:
    report = DeliveryReport.from_dict(
        {
            "MessageId": "m-1",
            "TO": "41",
            "status": {"GroupId": "3", "groupname": "delivered", "ID": 5, "name": "delivered"},
            "error": {"groupId": 0, "groupName": "Ok", "permanent": "true"},
            "price": {"pricePerMessage": 0.0001, "currency": "eur"},
            "channel": "whatsapp",
        }
    )
    assert (report.message_id, report.to, report.channel) == ("m-1", "41", "WHATSAPP")
    assert report.status == Status(3, "DELIVERED", 5, "DELIVERED", "", None)
    assert report.error is not None
    assert report.error.permanent is True
    assert report.price == Price(Decimal("0.0001"), "EUR")
    assert (report.sent_at, report.done_at, report.bulk_id, report.callback_data) == (
        None,
        None,
        None,
        None,
    )
    empty = DeliveryReport.from_dict({})
    assert (empty.message_id, empty.status.name, empty.error, empty.price) == ("", "", None, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2019-11-09T16:00:00.000+0000", datetime(2019, 11, 9, 16, tzinfo=UTC)),
        ("2019-11-09T16:00:00.000-0300", datetime(2019, 11, 9, 19, tzinfo=UTC)),
        ("2016-10-06T09:28:39.220Z", datetime(2016, 10, 6, 9, 28, 39, 220000, tzinfo=UTC)),
        ("2020-02-23T17:42:05.39+01:00", datetime(2020, 2, 23, 16, 42, 5, 390000, tzinfo=UTC)),
        ("2019-11-09T16:00:00", datetime(2019, 11, 9, 16, tzinfo=UTC)),
        (1573315200000, datetime(2019, 11, 9, 16, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)
def test_timestamps(raw, expected) -> None:
    parsed = parse_timestamp(raw)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None


def test_inbound_sms_push() -> None:
    item = example("sms_inbound_push")["results"][0]
    inbound = InboundSms.from_dict(item)
    assert inbound.from_ == item["from"]
    assert inbound.text == item["text"]
    assert inbound.keyword == item.get("keyword")
    assert inbound.sms_count == item["smsCount"]
    assert inbound.received_at is not None


def test_inbound_sms_without_clean_text_falls_back_to_text() -> None:
    inbound = InboundSms.from_dict({"messageId": "1", "from": "41", "to": "42", "text": "STOP"})
    assert (inbound.clean_text, inbound.keyword, inbound.price) == ("STOP", None, None)


def test_send_results_of_v2_and_whatsapp_shapes() -> None:
    v2 = SendResult.from_dict(example("sms_send_response_v2"))
    assert v2.messages
    assert all(m.to and m.message_id for m in v2.messages)
    template = SendResult.from_dict(example("whatsapp_send_template_response"))
    assert template.messages[0].message_count == 1
    assert SendResult.from_dict({"messages": []}) == SendResult(None, [])


def test_sms_log_uses_destination() -> None:
    log = SmsLog.from_dict({"destination": "41", "messageId": "m", "status": {"groupId": 1}})
    assert (log.to, log.message_id, log.status.group_id, log.error) == ("41", "m", 1, None)


def test_preview_and_error_defaults() -> None:
    preview = SmsPreview.from_dict({"textPreview": "x", "messageCount": 1})
    assert (preview.characters_remaining, preview.configuration) == (None, {})
    assert MessageError.from_dict({}).permanent is False
    assert Price.from_dict({"currency": "EUR"}) is None
    assert Price.from_dict({"pricePerMessage": "n/a", "currency": "EUR"}) is None


def _lower_keys(value):
    if isinstance(value, dict):
        return {k.lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


@pytest.mark.parametrize(
    "name",
    [
        "sms_send_response_v3",
        "sms_send_response_v2",
        "whatsapp_send_template_response",
    ],
)
def test_send_results_read_the_same_by_the_fast_and_the_lenient_path(name) -> None:
    data = example(name)
    fast = SendResult.from_dict(data)
    # Lower-cased keys miss the fast path (documented casing) and take the lenient one.
    lenient = SendResult.from_dict(_lower_keys(data))
    assert fast == lenient
    assert fast.messages
    assert all(m.message_id and m.status.group_name for m in fast.messages)


def test_a_single_send_answer_reads_the_same_by_both_paths() -> None:
    data = example("whatsapp_send_text_response")
    assert SentMessage.from_dict(data) == SentMessage.from_dict(_lower_keys(data))
    assert SentMessage.from_dict(data).status.group_name


@pytest.mark.parametrize(
    "name", ["sms_dlr_push_v3", "sms_dlr_push_v2", "whatsapp_dlr_push", "messages_api_dlr_push"]
)
def test_reports_read_the_same_in_documented_and_odd_casing(name) -> None:
    for item in example(name)["results"]:
        documented = DeliveryReport.from_dict(item, channel="SMS")
        odd = DeliveryReport.from_dict(_lower_keys(item), channel="SMS")
        assert replace(documented, raw={}) == replace(odd, raw={})
        assert documented.message_id
        assert documented.status.group_name


def test_a_body_with_an_unknown_key_is_still_read() -> None:
    item = {**example("sms_dlr_push_v3")["results"][0], "somethingNew": 1, "CALLBACKDATA": "x"}
    report = DeliveryReport.from_dict(item)
    assert report.callback_data == "x"
    assert report.status.group_name


def test_statuses_of_one_shape_are_parsed_once_and_stay_bounded() -> None:
    from infobip import types

    body = {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED"}
    first = Status.from_dict(dict(body))
    assert Status.from_dict(dict(body)) is first
    assert Status.from_dict({**body, "name": "other"}).name == "OTHER"
    # An unhashable value cannot be a cache key: parsed every time, still right.
    odd = Status.from_dict({**body, "description": ["a", "list"]})
    assert (odd.name, odd.description) == ("PENDING_ACCEPTED", "['a', 'list']")
    for n in range(types._STATUS_CACHE_SIZE + 5):
        Status.from_dict({**body, "id": n})
    assert len(types._STATUSES) <= types._STATUS_CACHE_SIZE


def test_a_send_entry_takes_its_part_count_from_details_when_the_top_level_has_none() -> None:
    entry = {"messageId": "m", "to": "", "destination": "4479", "status": {"groupName": "PENDING"}}
    assert SentMessage.from_dict({**entry, "details": {"messageCount": 2}}).message_count == 2
    assert SentMessage.from_dict({**entry, "messageCount": 3}).message_count == 3
    assert SentMessage.from_dict({**entry, "messageCount": 0}).message_count is None
    # `to` wins when present, even empty, exactly as the lenient path reads it.
    assert SentMessage.from_dict(entry) == SentMessage.from_dict(_lower_keys(entry))
