"""The report reader of the processing path gives what DeliveryReport.from_dict gives."""

import copy

import pytest

from infobip.processing import _REPORT_KEYS, delivery_report
from infobip.types import _DOCUMENTED, DeliveryReport
from tests.infobip.webhooks.conftest import example, report

ID = "5a3f2e1c-0d4b-4c6a-9e8f-7b6a5c4d3e2f"


def _variants() -> list[tuple[dict, str]]:
    v3 = report(ID)
    legacy = {**report(ID, "UNDELIVERABLE_NOT_DELIVERED", error="EC_UNKNOWN_SUBSCRIBER")}
    legacy["smsCount"] = legacy.pop("messageCount")
    no_price = report(ID, "EXPIRED_EXPIRED", price=None)
    epoch = {**report(ID), "doneAt": 1764580000000, "sentAt": ""}
    odd = {**report(ID), "price": {"pricePerMessage": "abc", "currency": "eur"}, "error": {}}
    whatsapp = {**report(ID), "channel": "whatsapp", "from": "447860099299"}
    whatsapp.pop("sender")
    mixed = {k.upper(): v for k, v in report(ID).items()}  # not documented casing: the general path
    nested = {**report(ID), "status": {**report(ID)["status"], "extra": [1, 2]}}  # unhashable
    items = [
        (v3, "SMS"),
        (legacy, "SMS"),
        (no_price, "SMS"),
        (epoch, "SMS"),
        (odd, "SMS"),
        (whatsapp, "WHATSAPP"),
        (mixed, "SMS"),
        (nested, "SMS"),
    ]
    # Infobip's published examples of every report push, read as the processing path does.
    for name, channel in (
        ("sms_dlr_push_v2", "SMS"),
        ("sms_dlr_push_v3", "SMS"),
        ("whatsapp_dlr_push", "WHATSAPP"),
        ("messages_api_dlr_push", "WHATSAPP"),
    ):
        items += [(item, channel) for item in example(name).get("results", [])]
    return items


@pytest.mark.parametrize(("item", "channel"), _variants())
def test_the_reader_gives_the_general_parsers_report(item: dict, channel: str) -> None:
    expected = DeliveryReport.from_dict(copy.deepcopy(item), channel=channel)
    # Twice: the second read comes from the caches of status, error, price and times.
    for _ in range(2):
        got = delivery_report(copy.deepcopy(item), channel)
        assert got == expected


def test_the_reader_only_reads_documented_keys_in_place() -> None:
    assert _REPORT_KEYS <= _DOCUMENTED
    assert "seenAt" not in _REPORT_KEYS  # a seen report never takes the fast path
