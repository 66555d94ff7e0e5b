"""Cost estimates: longest prefix, defaults, parts, Decimal exactness, settings."""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from campaigns.pricing import CostEstimate, Price, PriceTable, estimate_cost, price_for

ROOT = Path(__file__).resolve().parents[2]

TABLE = {
    "currency": "GBP",
    "sms": {"default": "0.0500", "1": "0.0100", "1876": "0.0900", "44": "0.0400", "447": "0.0350"},
    "whatsapp": {"default": "0.0600", "44": "0.0300"},
}


@pytest.fixture
def prices(settings):
    settings.HERALD_PRICES = TABLE
    return TABLE


@pytest.mark.usefixtures("prices")
@pytest.mark.parametrize(
    ("number", "channel", "amount", "prefix"),
    [
        ("+18765550100", "sms", "0.0900", "1876"),  # Jamaica beats NANP's 1
        ("+12025550100", "sms", "0.0100", "1"),
        ("+447700900123", "sms", "0.0350", "447"),  # UK mobile beats 44
        ("+442071234567", "sms", "0.0400", "44"),
        ("447700900123", "sms", "0.0350", "447"),  # Infobip's form, without +
        ("+44 20 7123 4567", "sms", "0.0400", "44"),
        ("+4915112345678", "sms", "0.0500", None),  # no 49 in this table: default
        ("", "sms", "0.0500", None),
        ("+447700900123", "whatsapp", "0.0300", "44"),
        ("+447700900123", "whatsapp_template", "0.0300", "44"),  # falls back to whatsapp
        ("+12025550100", "whatsapp_text", "0.0600", None),
    ],
)
def test_price_by_longest_prefix(number, channel, amount, prefix) -> None:
    assert price_for(number, channel) == Price(Decimal(amount), "GBP", prefix)


def test_channel_specific_table_wins_over_the_family(settings) -> None:
    settings.HERALD_PRICES = TABLE | {"whatsapp_template": {"default": "0.0800", "44": "0.0700"}}
    assert price_for("+447700900123", "whatsapp_template").amount == Decimal("0.0700")
    assert price_for("+447700900123", "whatsapp_text").amount == Decimal("0.0300")


@pytest.mark.usefixtures("prices")
def test_unknown_channel_is_an_error() -> None:
    with pytest.raises(ValueError, match="no prices for channel 'viber'"):
        price_for("+447700900123", "viber")


@pytest.mark.usefixtures("prices")
def test_sms_cost_is_per_part_whatsapp_per_message() -> None:
    estimate = estimate_cost(
        [
            ("+447700900123", "sms", 3),  # 3 x 0.0350
            ("+12025550100", "sms", 1),  # 0.0100
            ("+4915112345678", "sms", 2),  # default 2 x 0.0500
            ("+442071234567", "whatsapp_template", 5),  # per message: 0.0300
            ("+33612345678", "whatsapp_template", 1),  # default 0.0600
        ]
    )
    assert estimate == CostEstimate(
        total=Decimal("0.3050"),
        currency="GBP",
        by_channel={"sms": Decimal("0.2150"), "whatsapp_template": Decimal("0.0900")},
        unknown_prefix_count=2,
    )
    assert str(estimate.total) == "0.3050"


@pytest.mark.usefixtures("prices")
def test_empty_estimate() -> None:
    assert estimate_cost([]) == CostEstimate(Decimal("0.0000"), "GBP", {}, 0)


def test_decimal_arithmetic_is_exact(settings) -> None:
    # 0.1 and 0.0001 have no exact binary float; ten thousand of them must add up exactly.
    settings.HERALD_PRICES = {"sms": {"default": "0.1", "9": "0.0001"}}
    items = [("+9" + str(n), "sms", 1) for n in range(10_000)] + [("+1", "sms", 3)] * 10
    estimate = estimate_cost(iter(items))
    assert estimate.by_channel == {"sms": Decimal("4.0000")}
    assert estimate.total == Decimal("4.0000")
    assert estimate.currency == "EUR"  # the default currency
    assert estimate.unknown_prefix_count == 10


def test_totals_are_quantized_half_up_to_four_places(settings) -> None:
    settings.HERALD_PRICES = {"sms": {"default": "0.00125"}, "whatsapp": {"default": 0.00005}}
    estimate = estimate_cost([("+1", "sms", 3), ("+1", "whatsapp", 1)])
    assert estimate.by_channel == {"sms": Decimal("0.0038"), "whatsapp": Decimal("0.0001")}
    assert str(estimate.total) == "0.0038"  # 0.00375 + 0.00005 = 0.00380
    assert price_for("+1", "sms").amount == Decimal("0.00125")  # prices stay exact


def test_settings_change_takes_effect_immediately(settings) -> None:
    settings.HERALD_PRICES = {"sms": {"default": "1"}}
    assert price_for("+447700900123", "sms").amount == Decimal("1")
    settings.HERALD_PRICES = {"sms": {"default": "1", "44": "2"}}
    assert price_for("+447700900123", "sms").amount == Decimal("2")


def test_default_table_prices_major_countries() -> None:
    assert price_for("+4915112345678", "sms") == Price(Decimal("0.0750"), "EUR", "49")
    assert price_for("+447700900123", "sms") == Price(Decimal("0.0400"), "EUR", "44")
    assert price_for("+99912345", "whatsapp_template").prefix is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ({"sms": {"44": "0.04"}}, '"sms" must be an object with a "default" price'),
        ({"sms": "0.04"}, '"sms" must be an object with a "default" price'),
        ({"sms": {"default": "0.05", "UK": "0.04"}}, "prefix 'UK' must be digits"),
        ({"sms": {"default": "-0.05"}}, "sms.default must be zero or more"),
        ({"sms": {"default": "cheap"}}, "sms.default is not a number"),
        ({"sms": {"default": True}}, "sms.default must be a decimal string"),
        ({"sms": {"default": "NaN"}}, "sms.default must be zero or more"),
    ],
)
def test_invalid_tables_are_refused_with_the_reason(raw, message) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        PriceTable(raw)


def test_prices_come_from_the_environment_as_json() -> None:
    table = {"currency": "USD", "sms": {"default": "0.0200", "+44": "0.0300"}}
    code = (
        "from campaigns.pricing import price_for\n"
        "p = price_for('+447700900123', 'sms')\n"
        "print(p.amount, p.currency, p.prefix)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "HERALD_READ_DOTENV": "false",
        "HERALD_PRICES": json.dumps(table),
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.0300", "USD", "44"]
