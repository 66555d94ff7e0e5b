"""Cost estimates from the configurable price table (setting HERALD_PRICES).

The table is `{"currency": "EUR", "<channel>": {"default": "0.0500", "<prefix>": "0.0400", ...}}`
with prices as decimal strings (numbers are accepted too). A number is priced by the longest
prefix of its digits (after the `+`) found in its channel's table, else by that channel's
`default`, and counted as an unknown prefix. Which tables a channel type is priced from, in
order, and whether per part (SMS) or per message, is the type's (`ChannelType.price_keys`,
`priced_per_part`): `whatsapp_text` and `whatsapp_template` use their own table when present,
else `whatsapp`.
All arithmetic is Decimal; totals are quantized to 4 places (half up). Prices are estimates:
Infobip's price, reported per message, is what the account is charged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

FOUR_PLACES = Decimal("0.0001")


def _pricing(channel: str) -> tuple[tuple[str, ...], bool]:
    """(tables to try, priced per part) of a channel type, or of a medium (`whatsapp`)."""
    # Imported here: the price table is read by scripts that load no Django apps.
    from channels.registry import UnknownChannel, channel_type, types_of_medium

    try:
        kind = channel_type(channel)
    except UnknownChannel:
        kinds = types_of_medium(channel)
        if not kinds:
            return (channel,), False
        return (channel, *kinds[0].price_keys), kinds[0].priced_per_part
    return kind.price_keys, kind.priced_per_part


def priced_per_part(channel: str) -> bool:
    """Whether a channel type (or medium) is priced per part (SMS) rather than per message."""
    return _pricing(channel)[1]


@dataclass(frozen=True, slots=True)
class Price:
    """The price of one message (one part for SMS) to a number on a channel."""

    amount: Decimal
    currency: str
    prefix: str | None  # the matching prefix; None when the channel's default applied


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Estimated cost of a set of messages."""

    total: Decimal
    currency: str
    by_channel: dict[str, Decimal]
    unknown_prefix_count: int  # numbers priced at their channel's default


def _digits(number: str) -> str:
    digits = number.removeprefix("+")
    return digits if digits.isdigit() else "".join(c for c in digits if c.isdigit())


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ImproperlyConfigured(f"HERALD_PRICES: {where} must be a decimal string")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ImproperlyConfigured(f"HERALD_PRICES: {where} is not a number: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ImproperlyConfigured(f"HERALD_PRICES: {where} must be zero or more")
    return amount


class PriceTable:
    """A validated price table: prices per channel by country-code prefix."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        if not isinstance(raw, Mapping):
            raise ImproperlyConfigured("HERALD_PRICES must be a JSON object")
        self.currency = str(raw.get("currency") or "EUR")
        self.channels: dict[str, dict[str, Decimal]] = {}
        tables = {key: value for key, value in raw.items() if key != "currency"}
        for channel, prices in tables.items():
            if not isinstance(prices, Mapping) or "default" not in prices:
                raise ImproperlyConfigured(
                    f'HERALD_PRICES: "{channel}" must be an object with a "default" price'
                )
            table: dict[str, Decimal] = {}
            for prefix, value in prices.items():
                key = str(prefix).removeprefix("+")
                if key != "default" and not key.isdigit():
                    raise ImproperlyConfigured(
                        f'HERALD_PRICES: "{channel}" prefix {prefix!r} must be digits'
                    )
                table[key] = _decimal(value, f"{channel}.{prefix}")
            self.channels[channel] = table
        self._longest = max((len(k) for t in self.channels.values() for k in t), default=0)

    def channel_key(self, channel: str) -> str:
        """The table a channel is priced from (`whatsapp_text` falls back to `whatsapp`)."""
        for key in _pricing(channel)[0]:
            if key in self.channels:
                return key
        raise ValueError(f"HERALD_PRICES has no prices for channel {channel!r}")

    def price_for(self, number_e164: str, channel: str) -> Price:
        """Price of one message (SMS: one part) by the longest matching prefix."""
        table = self.channels[self.channel_key(channel)]
        digits = _digits(number_e164)
        for size in range(min(len(digits), self._longest), 0, -1):
            amount = table.get(digits[:size])
            if amount is not None:
                return Price(amount, self.currency, digits[:size])
        return Price(table["default"], self.currency, None)


@cache
def price_table() -> PriceTable:
    """The price table from settings, parsed once (re-read when the setting changes)."""
    return PriceTable(settings.HERALD_PRICES)


@receiver(setting_changed)
def _forget_price_table(*, setting: str, **kwargs: Any) -> None:
    if setting == "HERALD_PRICES":
        price_table.cache_clear()


def price_for(number_e164: str, channel: str) -> Price:
    """Price of one message (SMS: one part) to a number, from HERALD_PRICES."""
    return price_table().price_for(number_e164, channel)


def estimate_cost(items: Iterable[tuple[str, str, int]]) -> CostEstimate:
    """Estimated cost of (number, channel, parts) items: SMS per part, others per message."""
    table = price_table()
    sums: dict[str, Decimal] = {}
    per_part: dict[str, bool] = {}
    unknown = 0
    for number, channel, parts in items:
        price = table.price_for(number, channel)
        if price.prefix is None:
            unknown += 1
        if channel not in per_part:
            per_part[channel] = _pricing(channel)[1]
        amount = price.amount * parts if per_part[channel] else price.amount
        sums[channel] = sums.get(channel, Decimal(0)) + amount
    by_channel = {c: s.quantize(FOUR_PLACES, ROUND_HALF_UP) for c, s in sums.items()}
    total = sum(sums.values(), Decimal(0)).quantize(FOUR_PLACES, ROUND_HALF_UP)
    return CostEstimate(total, table.currency, by_channel, unknown)
