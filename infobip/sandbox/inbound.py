"""Inbound messages as Infobip pushes them: SMS in `MO_JSON_2`, WhatsApp in `MO_OTT_CONTACT`,
every other channel (Viber, RCS…) in the Messages API's shape.

Used by `POST /_sandbox/inbound` and by `manage.py sandbox_inbound --direct`.
"""

import uuid
from typing import Any

from infobip.sandbox.codes import price, sms_parts, timestamp

# Keywords a number's inbound configuration typically routes on; the first word of an inbound
# SMS that is one of these (or a configured keyword) is reported as `keyword`.
DEFAULT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "START", "UNSTOP", "HELP"}
)


def sms_inbound(
    sender: str, to: str, text: str, keywords: frozenset[str] | set[str] = DEFAULT_KEYWORDS
) -> dict[str, Any]:
    """One inbound SMS result (`receive-inbound-sms-messages`)."""
    first, _, rest = text.strip().partition(" ")
    item: dict[str, Any] = {
        "messageId": uuid.uuid4().hex,
        "from": sender,
        "to": to,
        "text": text,
        "cleanText": text,
        "receivedAt": timestamp(),
        "smsCount": sms_parts(text)[0],
        "price": price(0, "EUR"),
    }
    if first.upper() in keywords:
        item["keyword"] = first.upper()
        item["cleanText"] = rest.strip()
    return item


def whatsapp_inbound(sender: str, to: str, text: str) -> dict[str, Any]:
    """One inbound WhatsApp TEXT result (`receive-inbound-whatsapp-messages`)."""
    return {
        "from": sender,
        "to": to,
        "integrationType": "WHATSAPP",
        "receivedAt": timestamp(),
        "messageId": "wamid." + uuid.uuid4().hex,
        "message": {"type": "TEXT", "text": text},
        "price": price(0, "EUR"),
        "contact": {"name": "Sandbox user", "phoneNumber": sender},
    }


def envelope(results: list[dict[str, Any]], pending: int = 0) -> dict[str, Any]:
    """The `{"results", "messageCount", "pendingMessageCount"}` envelope both pushes share."""
    return {"results": results, "messageCount": len(results), "pendingMessageCount": pending}


def messages_api_inbound(channel: str, sender: str, to: str, text: str) -> dict[str, Any]:
    """One inbound Messages API text (`receive-messages-api-incoming-messages`)."""
    return {
        "event": "MO",
        "channel": channel,
        "sender": sender,
        "destination": to,
        "content": [{"type": "TEXT", "text": text, "cleanText": text}],
        "receivedAt": timestamp(),
        "messageId": uuid.uuid4().hex,
        "messageCount": 1,
    }


# The Messages API's inbound channels (`InboundMoEventChannel`), and the names people type.
MESSAGES_API_CHANNELS = frozenset(
    {"APPLE_MB", "INSTAGRAM_DM", "MESSENGER", "MMS", "RCS", "VIBER_BM", "VIBER_BOT"}
)
ALIASES = {"viber": "VIBER_BM"}
CHANNELS = ("sms", "whatsapp", "viber", *sorted(c.lower() for c in MESSAGES_API_CHANNELS))


def infobip_channel(channel: str) -> str:
    """Infobip's name of an inbound channel as typed (`viber` → `VIBER_BM`, `rcs` → `RCS`)."""
    name = channel.strip()
    return ALIASES.get(name.lower(), name.upper())


def build(
    channel: str, sender: str, to: str, text: str, keywords: frozenset[str] = DEFAULT_KEYWORDS
) -> dict[str, Any]:
    """The push body for one inbound message on `channel` (`sms`, `whatsapp`, `viber`, `rcs`…)."""
    name = infobip_channel(channel)
    own = {
        "SMS": lambda: envelope([sms_inbound(sender, to, text, keywords)]),
        "WHATSAPP": lambda: envelope([whatsapp_inbound(sender, to, text)]),
    }
    if name in own:
        return own[name]()
    if name in MESSAGES_API_CHANNELS:
        return {"results": [messages_api_inbound(name, sender, to, text)]}
    raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
