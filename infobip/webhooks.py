"""Infobip's push bodies: the minimal shape check the view applies, and parsers for what
infobip/types.py does not cover (inbound WhatsApp, seen reports, clicks, notifications).

Shapes (docs/INFOBIP.md §8, §10, §11, §13): reports and inbound messages come as
`{"results": [...]}` batches; a WhatsApp report URL receives delivery reports (`status`) and
seen reports (`seenAt`, no `status`) mixed; subscription events (template updates, marketing
stop/resume notifications) are single objects; a click notification is a single object (a
`results` batch of them is accepted too). Keys are matched case-insensitively, like types.py.
"""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infobip.models import INBOUND_KINDS, REPORT_KINDS, EventKind
from infobip.types import InboundSms, first_present, lower_keys, parse_timestamp, text_or_none

# WhatsApp message types whose text is something the person typed or tapped (keywords apply).
TEXT_TYPES = frozenset(
    {"TEXT", "BUTTON", "INTERACTIVE_BUTTON_REPLY", "INTERACTIVE_LIST_REPLY", "QUICK_REPLY"}
)
MEDIA_TYPES = frozenset({"IMAGE", "DOCUMENT", "AUDIO", "VIDEO", "VOICE", "STICKER"})
# The event times Herald keeps (the database columns cannot hold any datetime).
MIN_TIME = datetime(2000, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2200, 1, 1, tzinfo=UTC)


# Report keys in Infobip's documented casing (no `seenAt`): a report made only of them is read
# in place, here and by infobip.processing.
_REPORT_KEYS = frozenset(
    {
        "messageId",
        "to",
        "destination",
        "sender",
        "from",
        "bulkId",
        "sentAt",
        "doneAt",
        "messageCount",
        "smsCount",
        "price",
        "status",
        "error",
        "callbackData",
        "channel",
        "event",
        "platform",
        "applicationId",
        "entityId",
        "campaignReferenceId",
        "networkId",
        "mccMnc",
        "deviceDetails",
    }
)


class ShapeError(ValueError):
    """A body that is JSON but not the shape Infobip pushes to this URL."""


def results_of(data: Any) -> list[Any] | None:
    """The `results` list of a batch body (any key casing), else None."""
    value = lower_keys(data).get("results")
    return value if isinstance(value, list) else None


def is_template_update(data: Any) -> bool:
    """A WhatsApp TEMPLATE_UPDATE subscription event (single object)."""
    d = lower_keys(data)
    return isinstance(d.get("messagetemplatename"), str) and isinstance(d.get("change"), Mapping)


def marketing_notification(data: Any) -> tuple[str, str, str] | None:
    """(user number, our sender, "stop"|"resume") of a WhatsApp marketing update notification."""
    d = lower_keys(data)
    content = lower_keys(d.get("content"))
    status = content.get("notificationmessagesstatus")
    if not isinstance(status, str) or status.strip().lower() not in ("stop", "resume"):
        return None
    user = text_or_none(content.get("from"))
    if user is None:
        return None
    sender = text_or_none(content.get("sender") or d.get("from")) or ""
    return user, sender, status.strip().lower()


def check_shape(kind: str, data: Any) -> None:
    """Raise ShapeError unless `data` is a body Infobip pushes to the URL of `kind`."""
    if not isinstance(data, Mapping):
        raise ShapeError("the body must be a JSON object")
    if kind == EventKind.CLICKS:
        items = results_of(data)
        for item in items if items is not None else [data]:
            keys = lower_keys(item)
            if not isinstance(item, Mapping) or (
                keys.get("url") is None and keys.get("messageid") is None
            ):
                raise ShapeError("a click notification needs `url` or `messageId`")
        return
    items = results_of(data)
    if items is None:
        whatsapp = kind in (EventKind.WHATSAPP_REPORTS, EventKind.WHATSAPP_INBOUND)
        if whatsapp and (is_template_update(data) or marketing_notification(data)):
            return
        raise ShapeError("the body must carry a `results` list")
    reports = kind in REPORT_KINDS
    for position, item in enumerate(items):
        if reports and type(item) is dict and item.keys() <= _REPORT_KEYS:
            # A report in documented casing (nearly all of them): checked without a copy, with
            # exact type tests (JSON gives dict, str, int; bool is not int here), no ABC checks.
            message_id = item.get("messageId")
            id_type = type(message_id)
            status_ok = type(item.get("status")) is dict
            if status_ok and ((id_type is str and message_id) or id_type is int):
                continue  # otherwise the general check below says what is wrong
        if not isinstance(item, Mapping):
            raise ShapeError(f"results[{position}] must be an object")
        d = lower_keys(item)
        message_id = d.get("messageid")
        if (
            not isinstance(message_id, str | int)
            or isinstance(message_id, bool)
            or message_id == ""
        ):
            raise ShapeError(f"results[{position}].messageId is missing")
        if kind in INBOUND_KINDS and not inbound_sender(item):
            raise ShapeError(f"results[{position}].from is missing")
        if kind in REPORT_KINDS and not (
            isinstance(d.get("status"), Mapping) or d.get("seenat") is not None
        ):
            raise ShapeError(f"results[{position}] has neither `status` nor `seenAt`")


def inbound_sender(item: Any) -> str:
    """Who sent an inbound message: `from`, else the WhatsApp contact's number or user id."""
    d = lower_keys(item)
    contact = lower_keys(d.get("contact"))
    found = first_present(d, "from", "sender") or first_present(contact, "phoneNumber", "userId")
    return text_or_none(found) or ""


def is_seen_report(item: Any) -> bool:
    """A seen report (same URL as delivery reports): `seenAt` and no `status`."""
    d = lower_keys(item)
    return d.get("seenat") is not None and not isinstance(d.get("status"), Mapping)


@dataclass(frozen=True)
class SeenReport:
    """A WhatsApp seen report: the message `message_id` was seen at `seen_at`."""

    message_id: str
    seen_at: datetime | None

    @classmethod
    def from_dict(cls, data: Any) -> "SeenReport":
        d = lower_keys(data)
        return cls(
            message_id=str(d.get("messageid") or ""), seen_at=parse_timestamp(d.get("seenat"))
        )


@dataclass(frozen=True)
class Inbound:
    """An inbound SMS or WhatsApp message, whatever its type, reduced to what Herald keeps."""

    channel: str  # Infobip's channel lower-cased: "sms", "whatsapp", "viber_bm", "rcs"…
    message_id: str
    from_: str
    to: str
    message_type: str
    text: str
    clean_text: str
    keyword: str
    media_url: str
    received_at: datetime | None
    payload: dict[str, Any]

    @classmethod
    def from_sms(cls, data: Any) -> "Inbound":
        sms = InboundSms.from_dict(data)
        return cls(
            channel="sms",
            message_id=sms.message_id,
            from_=sms.from_,
            to=sms.to,
            message_type="TEXT",
            text=sms.text,
            clean_text=sms.clean_text,
            keyword=sms.keyword or "",
            media_url="",
            received_at=sms.received_at,
            payload=sms.raw,
        )

    @classmethod
    def from_whatsapp(cls, data: Any) -> "Inbound":
        d = lower_keys(data)
        message = d.get("message")
        m = lower_keys(message)
        kind = str(m.get("type") or "UNKNOWN").upper()[:64]
        text = whatsapp_text(kind, m)
        return cls(
            channel="whatsapp",
            message_id=str(d.get("messageid") or ""),
            from_=inbound_sender(data),
            to=str(d.get("to") or ""),
            message_type=kind,
            text=text,
            clean_text=text,
            keyword=text_or_none(d.get("keyword")) or "",
            media_url=str(m.get("url") or "") if isinstance(m.get("url"), str) else "",
            received_at=parse_timestamp(d.get("receivedat")),
            payload=dict(message) if isinstance(message, Mapping) else {},
        )

    @classmethod
    def from_messages_api(cls, data: Any) -> "Inbound":
        """An inbound Messages API event (`receive-messages-api-incoming-messages`): any channel;
        the first content item is the message (a text, a button reply, a media…)."""
        d = lower_keys(data)
        items = d.get("content")
        first = items[0] if isinstance(items, list) and items else {}
        m = lower_keys(first)
        kind = str(m.get("type") or "UNKNOWN").upper()[:64]
        if kind == "BUTTON_REPLY":
            kind = "INTERACTIVE_BUTTON_REPLY"  # the WhatsApp name: typed text, keywords apply
        text = whatsapp_text(kind, m)
        clean_text = m.get("cleantext")
        return cls(
            channel=str(d.get("channel") or "").lower()[:16],
            message_id=str(d.get("messageid") or ""),
            from_=inbound_sender(data),
            to=str(first_present(d, "destination", "to") or ""),
            message_type=kind,
            text=text,
            clean_text=clean_text if isinstance(clean_text, str) else text,
            keyword=text_or_none(m.get("keyword")) or "",
            media_url=str(m.get("url") or "") if isinstance(m.get("url"), str) else "",
            received_at=parse_timestamp(d.get("receivedat")),
            payload=dict(first) if isinstance(first, Mapping) else {},
        )


def whatsapp_text(kind: str, m: Mapping[str, Any]) -> str:
    """The readable text of an inbound WhatsApp message of type `kind` (lower-cased keys)."""
    if kind in ("INTERACTIVE_BUTTON_REPLY", "INTERACTIVE_LIST_REPLY", "LIST_REPLY"):
        value = m.get("title") or m.get("text")
    elif kind == "REACTION":
        value = m.get("emoji")
    elif kind == "LOCATION":
        value = " ".join(str(m[k]) for k in ("name", "address") if m.get(k))
    elif kind in MEDIA_TYPES:
        value = m.get("caption")
    else:
        value = m.get("text")
    return value if isinstance(value, str) else ("" if value is None else str(value))


@dataclass(frozen=True)
class ClickNotification:
    """A URL click notification (`receive-sms-tracking-notification`)."""

    message_id: str
    url: str
    recipient: str
    sent_at: datetime | None
    callback_data: str | None
    device_type: str
    os: str
    device_name: str
    country: str
    city: str
    raw: dict[str, Any]

    @classmethod
    def from_dict(cls, data: Any) -> "ClickNotification":
        d = lower_keys(data)
        device = lower_keys(d.get("recipientinfo"))
        geo = lower_keys(d.get("geolocationinfo"))
        return cls(
            message_id=str(d.get("messageid") or ""),
            url=str(d.get("url") or ""),
            recipient=str(d.get("recipient") or ""),
            sent_at=parse_timestamp(d.get("senddatetime")),
            callback_data=text_or_none(d.get("callbackdata")),
            device_type=str(device.get("devicetype") or ""),
            os=str(device.get("os") or ""),
            device_name=str(device.get("devicename") or ""),
            country=str(geo.get("countryname") or ""),
            city=str(geo.get("city") or ""),
            raw=dict(data) if isinstance(data, Mapping) else {},
        )


def click_items(data: Any) -> list[Any]:
    """The click notifications in a clicks body: a `results` batch or the single object."""
    items = results_of(data)
    return items if items is not None else [data]


def clean(value: Any, limit: int | None = None) -> Any:
    """`value` without NUL characters (PostgreSQL refuses them), strings cut to `limit`."""
    if isinstance(value, str):
        text = value.replace("\x00", "") if "\x00" in value else value
        return text[:limit] if limit is not None else text
    if isinstance(value, Mapping):
        return {clean(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_message_id(value: str) -> str | None:
    """Our messageId in the ledger's form (lower-case UUID), or None when it is not a UUID."""
    # Reports echo the ids Herald sent, already canonical: no UUID object built and printed.
    if type(value) is str and _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(str(value).strip()))
    except (ValueError, AttributeError, TypeError):
        return None


def sane_time(value: datetime | None) -> datetime | None:
    """`value` when it is a plausible event time (the columns cannot hold any datetime)."""
    if value is None or not MIN_TIME <= value <= MAX_TIME:
        return None
    return value
