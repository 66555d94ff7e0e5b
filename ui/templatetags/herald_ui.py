"""Template filters for the marketer's pages: money as people write it, plain status names."""

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django import template

if TYPE_CHECKING:  # for the annotation only: the filters import what they use inside them
    from campaigns.models import Campaign

register = template.Library()

CURRENCY_SIGNS = {"EUR": "€", "USD": "$", "GBP": "£"}


@register.filter
def money(amount: object, currency: str = "") -> str:
    """€199.20 (two decimals, thousands separated); 199.20 CHF without a known sign."""
    try:
        exact = Decimal(str(amount if amount is not None else 0))
    except InvalidOperation:
        return ""
    value = exact.quantize(Decimal("0.01"))
    if value != exact and abs(exact) < 1:
        # Per-message prices are often fractions of a cent: show them, not "€0.00".
        value = exact.quantize(Decimal("0.0001")).normalize()
    sign = CURRENCY_SIGNS.get(currency or "")
    if sign:
        return f"-{sign}{-value:,}" if value < 0 else f"{sign}{value:,}"
    return f"{value:,} {currency}".strip()


@register.filter
def campaign_cost(campaign: "Campaign") -> str:
    """What a campaign has cost so far, with its currency: the one Infobip's prices came in, else
    the price table's (before the first priced report the campaign has none of its own)."""
    from campaigns.pricing import price_table

    return money(campaign.cost_amount, campaign.cost_currency or price_table().currency)


# Infobip's status names in plain words (the code stays on hover). Unlisted names are spelled out
# from the code itself, so nothing shows blank.
STATUS_WORDS = {
    "MESSAGE_ACCEPTED": "Accepted by Infobip",
    "PENDING_ACCEPTED": "Accepted, on its way",
    "PENDING_ENROUTE": "On its way to the phone",
    "PENDING_WAITING_DELIVERY": "Waiting for the phone",
    "DELIVERED_TO_OPERATOR": "Reached the mobile network",
    "DELIVERED_TO_HANDSET": "Delivered to the phone",
    "SEEN": "Seen",
    "UNDELIVERABLE_NOT_DELIVERED": "Could not be delivered",
    "UNDELIVERABLE_REJECTED_OPERATOR": "Refused by the mobile network",
    "EXPIRED_EXPIRED": "Expired before it could be delivered",
    "EXPIRED_DLR_UNKNOWN": "Expired, the network never confirmed",
    "REJECTED_NETWORK": "Refused: the network is not covered",
    "REJECTED_DND": "Refused: the number is on a do-not-disturb list",
    "REJECTED_MESSAGE_TOO_LONG": "Refused: the message is too long",
    "REJECTED_DESTINATION": "Refused: the number cannot receive it",
    "NO_FINAL_REPORT": "No delivery report ever came",
    "HERALD_VALIDITY_EXPIRED": "Expired: not delivered within the campaign's validity",
    "EC_BLOCKED_USER": "The person blocked the sender",
    "EC_MARKETING_OPT_OUT": "The person opted out of marketing",
    "EC_UNKNOWN_SUBSCRIBER": "The number does not exist on its network",
    "EC_ILLEGAL_SUBSCRIBER": "The network refused this number",
    "EC_ABSENT_SUBSCRIBER": "The phone was off or out of reach",
    "EC_INVALID_DESTINATION_ADDRESS": "The number is not a valid destination",
}


@register.filter
def plain_status(code: str) -> str:
    """Infobip's status or error code in plain words."""
    if not code:
        return ""
    if code in STATUS_WORDS:
        return STATUS_WORDS[code]
    # Infobip's network errors start with EC_ ("error code"): the rest is the words.
    words = code.removeprefix("EC_").replace("_", " ").lower()
    return words[:1].upper() + words[1:]


@register.filter
def medium(value: str) -> str:
    """A medium as people call it (`whatsapp` → "WhatsApp"), from the channel registry."""
    from channels.registry import medium_label

    return medium_label(str(value or ""))


@register.filter
def channel_label(value: str) -> str:
    """A channel type as people call it (`whatsapp_template` → "WhatsApp template")."""
    from channels.registry import UnknownChannel, channel_type

    try:
        return channel_type(str(value or "")).label
    except UnknownChannel:
        return str(value or "")


@register.filter
def country_name(code: str) -> str:
    """A country as people call it (`IN` → "India"; `*` → "any country")."""
    from channels.countries import country_name as name

    return name(str(code or ""))


@register.simple_tag
def figure(obj: object, key: str, kind: str) -> str:
    """One figure of a report row as people read it: 12.5%, €0.20, 1,024, or — when none."""
    value = getattr(obj, str(key), None)
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value}%"
    if kind == "money":
        return money(value, getattr(obj, "currency", ""))
    return f"{value:,}" if isinstance(value, int) else str(value)


@register.filter
def state_label(state: str) -> str:
    """A ledger state as the campaign pages name it (Queued, Delivered…)."""
    from campaigns.states import MessageState

    return MessageState(state).label if state in MessageState.values else state


@register.filter(name="in_words")
def in_words_filter(text: object) -> str:
    """A service's reason without codes or command-line flags (ui/words.py)."""
    from ui.words import in_words

    return in_words(text)


@register.filter(name="durations")
def durations_filter(text: object) -> str:
    """ISO 8601 durations in a text said in words (`waited PT1H` → "waited 1 hour")."""
    from ui.words import durations_in_words

    return durations_in_words(text)


@register.inclusion_tag("ui/_snippet_picker.html")
def snippet_picker(target: str) -> dict[str, Any]:
    """Buttons that insert a saved snippet into the field `target` (at the cursor)."""
    from campaigns.models import Snippet

    return {"snippets": list(Snippet.objects.all()[:50]), "target": target}
