"""Typed inputs and results of the Infobip client.

Parsers are lenient on purpose: Infobip's bodies differ between API versions (`to` vs
`destination`, `smsCount` vs `messageCount`, `from` vs `sender`), optional fields come and go,
key and value casing varies (`"OK"` vs `"Ok"`), and timestamps carry any offset (`+0000`,
`-0300`, `Z`). A missing optional field becomes None; the original item is kept in `raw`.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Self

# Keys in the casing Infobip documents (every shape Herald reads, not exhaustive): a body whose
# keys are all among them is read in place; anything else is copied with lower-cased keys.
_DOCUMENTED = frozenset(
    {
        "messageId",
        "to",
        "destination",
        "sender",
        "from",
        "bulkId",
        "sentAt",
        "doneAt",
        "seenAt",
        "messageCount",
        "smsCount",
        "price",
        "pricePerMessage",
        "currency",
        "status",
        "groupId",
        "groupName",
        "id",
        "name",
        "description",
        "action",
        "error",
        "permanent",
        "callbackData",
        "channel",
        "event",
        "details",
        "results",
        "platform",
        "applicationId",
        "entityId",
        "contact",
        "campaignReferenceId",
        "networkId",
        "deviceDetails",
        "mccMnc",
        "receivedAt",
        "text",
        "cleanText",
        "keyword",
        "pairedMessageId",
        "message",
        "type",
    }
)
_CAMEL = {key.lower(): key for key in _DOCUMENTED}
assert len(_CAMEL) == len(_DOCUMENTED), "documented keys must differ by more than case"


class _Documented(Mapping[str, Any]):
    """A body in documented casing, seen with lower-cased keys without copying it."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[_CAMEL[key]]

    def get(self, key: str, default: Any = None) -> Any:
        camel = _CAMEL.get(key)
        return default if camel is None else self._data.get(camel, default)

    def __iter__(self) -> Iterator[str]:
        return (key.lower() for key in self._data)

    def __len__(self) -> int:
        return len(self._data)


def lower_keys(data: Any) -> Mapping[str, Any]:
    """`data` with lower-cased keys (empty for anything that is not a mapping)."""
    if not isinstance(data, Mapping):
        return {}
    # Reports arrive by the hundred per push: the copy below was ~40 % of parsing one.
    if type(data) is dict and data.keys() <= _DOCUMENTED:
        return _Documented(data)
    return {str(k).lower(): v for k, v in data.items()}


def first_present(d: Mapping[str, Any], *names: str) -> Any:
    """The first of `names` (any casing) that `d`, from lower_keys(), holds a value for."""
    for name in names:
        value = d.get(name.lower())
        if value is not None:
            return value
    return None


def text_or_none(value: Any) -> str | None:
    """`value` as text, or None when it is absent."""
    if value is None:
        return None
    text = str(value)
    return text or None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _upper(value: Any) -> str:
    return str(value).upper() if value is not None else ""


def parse_timestamp(value: Any) -> datetime | None:
    """An aware datetime from Infobip's `yyyy-MM-dd'T'HH:mm:ss.SSSZ` (any offset) or epoch ms."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        try:
            parsed = datetime.strptime(str(value).strip(), "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Status:
    """Infobip's message status; `group_name` and `name` are upper-cased constants."""

    group_id: int | None
    group_name: str
    id: int | None
    name: str
    description: str
    action: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> "Status":
        # A send answer carries the same status for nearly every message: parse each shape
        # once (the result is immutable). Bodies with unhashable values are parsed each time.
        key = tuple(data.items()) if type(data) is dict else None
        try:
            return _STATUSES[key]
        except KeyError:
            pass
        except TypeError:
            key = None
        d = lower_keys(data)
        status = cls(
            group_id=_int(d.get("groupid")),
            group_name=_upper(d.get("groupname")),
            id=_int(d.get("id")),
            name=_upper(d.get("name")),
            description=str(d.get("description") or ""),
            action=text_or_none(d.get("action")),
        )
        if key is not None:
            if len(_STATUSES) >= _STATUS_CACHE_SIZE:
                _STATUSES.clear()
            _STATUSES[key] = status
        return status


_STATUSES: dict[tuple[tuple[str, Any], ...] | None, Status] = {}
_STATUS_CACHE_SIZE = 512


@dataclass(frozen=True)
class MessageError:
    """Infobip's error object on a report; `permanent` says whether retrying can ever help."""

    group_id: int | None
    group_name: str
    id: int | None
    name: str
    description: str
    permanent: bool = False

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        d = lower_keys(data)
        permanent = d.get("permanent")
        if isinstance(permanent, str):
            permanent = permanent.strip().lower() == "true"
        return cls(
            group_id=_int(d.get("groupid")),
            group_name=_upper(d.get("groupname")),
            id=_int(d.get("id")),
            name=_upper(d.get("name")),
            description=str(d.get("description") or ""),
            permanent=bool(permanent),
        )


@dataclass(frozen=True)
class Price:
    """Price per message part and its currency."""

    price_per_message: Decimal
    currency: str

    @classmethod
    def from_dict(cls, data: Any) -> Self | None:
        d = lower_keys(data)
        amount = d.get("pricepermessage")
        if amount is None:
            return None
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            return None
        return cls(price_per_message=value, currency=_upper(d.get("currency")))


def _optional(parser: Any, value: Any) -> Any:
    return parser(value) if isinstance(value, Mapping) and value else None


@dataclass(frozen=True)
class SentMessage:
    """One message Infobip accepted (or rejected) in a send response."""

    message_id: str
    to: str
    status: Status
    message_count: int | None = None

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        d = lower_keys(data)
        details = lower_keys(d.get("details"))
        return cls(
            message_id=str(d.get("messageid") or ""),
            to=str(first_present(d, "to", "destination") or ""),
            status=Status.from_dict(d.get("status")),
            message_count=_int(
                first_present(d, "messageCount", "smsCount") or details.get("messagecount")
            ),
        )


@dataclass(frozen=True)
class SendResult:
    """A send response: the bulk id (when Infobip gives one) and one entry per message."""

    bulk_id: str | None
    messages: list[SentMessage]

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        d = lower_keys(data)
        items = d.get("messages") or []
        return cls(
            bulk_id=text_or_none(d.get("bulkid")),
            messages=[SentMessage.from_dict(item) for item in items],
        )


@dataclass(frozen=True)
class DeliveryReport:
    """A delivery report, pulled or pushed: SMS v3/v2, WhatsApp, or Messages API shapes."""

    message_id: str
    to: str
    sender: str | None
    bulk_id: str | None
    sent_at: datetime | None
    done_at: datetime | None
    message_count: int | None
    price: Price | None
    status: Status
    error: MessageError | None
    callback_data: str | None
    channel: str
    raw: dict[str, Any]
    event: str | None = None

    @classmethod
    def from_dict(cls, data: Any, *, channel: str | None = None) -> Self:
        """Parse one report; the item's own `channel` wins, then `channel`, then "SMS"."""
        d = lower_keys(data)
        return cls(
            **_sent_message_fields(d, data),
            to=str(first_present(d, "to", "destination") or ""),
            callback_data=text_or_none(d.get("callbackdata")),
            channel=_upper(d.get("channel") or channel or "SMS"),
            event=text_or_none(d.get("event")),
        )


def _sent_message_fields(d: Mapping[str, Any], data: Any) -> dict[str, Any]:
    """The fields a delivery report and a log entry share, from `lower_keys(data)`."""
    return {
        "message_id": str(d.get("messageid") or ""),
        "sender": text_or_none(first_present(d, "sender", "from")),
        "bulk_id": text_or_none(d.get("bulkid")),
        "sent_at": parse_timestamp(d.get("sentat")),
        "done_at": parse_timestamp(d.get("doneat")),
        "message_count": _int(first_present(d, "messageCount", "smsCount")),
        "price": _optional(Price.from_dict, d.get("price")),
        "status": Status.from_dict(d.get("status")),
        "error": _optional(MessageError.from_dict, d.get("error")),
        "raw": dict(data) if isinstance(data, Mapping) else {},
    }


@dataclass(frozen=True)
class SmsLog:
    """One entry of `/sms/3/logs`: the current state of a sent SMS."""

    message_id: str
    to: str
    sender: str | None
    bulk_id: str | None
    sent_at: datetime | None
    done_at: datetime | None
    message_count: int | None
    price: Price | None
    status: Status
    error: MessageError | None
    raw: dict[str, Any]

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        d = lower_keys(data)
        to = first_present(d, "destination", "to")
        return cls(**_sent_message_fields(d, data), to=str(to or ""))


@dataclass(frozen=True)
class InboundSms:
    """An inbound SMS (pull or push, format MO_JSON_2)."""

    message_id: str
    from_: str
    to: str
    text: str
    clean_text: str
    keyword: str | None
    received_at: datetime | None
    sms_count: int | None
    price: Price | None
    callback_data: str | None
    raw: dict[str, Any]

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        d = lower_keys(data)
        text = str(d.get("text") or "")
        return cls(
            message_id=str(d.get("messageid") or ""),
            from_=str(first_present(d, "from", "sender") or ""),
            to=str(first_present(d, "to", "destination") or ""),
            text=text,
            clean_text=str(d["cleantext"]) if d.get("cleantext") is not None else text,
            keyword=text_or_none(d.get("keyword")),
            received_at=parse_timestamp(d.get("receivedat")),
            sms_count=_int(first_present(d, "smsCount", "messageCount")),
            price=_optional(Price.from_dict, d.get("price")),
            callback_data=text_or_none(d.get("callbackdata")),
            raw=dict(data) if isinstance(data, Mapping) else {},
        )


@dataclass(frozen=True)
class SmsPreview:
    """How a text splits into parts under one language configuration."""

    text_preview: str
    message_count: int | None
    characters_remaining: int | None
    configuration: dict[str, Any]

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        d = lower_keys(data)
        configuration = d.get("configuration")
        return cls(
            text_preview=str(d.get("textpreview") or ""),
            message_count=_int(d.get("messagecount")),
            characters_remaining=_int(d.get("charactersremaining")),
            configuration=dict(configuration) if isinstance(configuration, Mapping) else {},
        )


@dataclass(frozen=True)
class SmsMessage:
    """One SMS to send to one destination with our own `message_id`."""

    to: str
    text: str
    message_id: str
    sender: str | None = None
    callback_data: str | None = None
    notify_url: str | None = None
    intermediate_report: bool = False
    validity_period_minutes: int | None = None
    campaign_reference_id: str | None = None
    language_code: str | None = None  # TR, ES, PT or AUTODETECT (national language shift)
    transliteration: str | None = None  # e.g. TURKISH, GREEK, NON_UNICODE, ALL
    # options.regional: {"indiaDlt": {...}, "turkeyIys": {...}, "southKorea": {...}}
    regional: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class WhatsAppTemplateMessage:
    """One WhatsApp template message to one recipient, with optional SMS failover."""

    to: str
    sender: str
    template_name: str
    language: str
    message_id: str
    body_placeholders: Sequence[str] = field(default_factory=list)
    header: dict[str, Any] | None = None  # e.g. {"type": "TEXT", "placeholder": "..."}
    buttons: list[dict[str, Any]] | None = (
        None  # e.g. [{"type": "QUICK_REPLY", "parameter": "..."}]
    )
    callback_data: str | None = None
    notify_url: str | None = None
    sms_failover: tuple[str, str] | None = None  # (sender, text)
    # Not sent: /whatsapp/1/message/template has no validity field (kept for callers' symmetry).
    validity_period_minutes: int | None = None
    url_options: dict[str, Any] | None = None  # `urlOptions`: shortening and click tracking


@dataclass(frozen=True)
class InboundConfiguration:
    """One inbound-message configuration of a number (resources API `MoConfigurationResponse`)."""

    configuration_key: str
    channel: str
    number: str | None
    keyword: str | None
    forwarding_type: str | None
    url: str | None
    raw: dict[str, Any]

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        d = lower_keys(data)
        forwarding = lower_keys(d.get("forwarding"))
        return cls(
            configuration_key=str(d.get("configurationkey") or ""),
            channel=_upper(d.get("channel")),
            number=text_or_none(first_present(d, "number", "resource")),
            keyword=text_or_none(d.get("keyword")),
            forwarding_type=text_or_none(forwarding.get("type")),
            url=text_or_none(forwarding.get("url")),
            raw=dict(data) if isinstance(data, Mapping) else {},
        )


@dataclass(frozen=True)
class MessagesApiButton:
    """A button of a Messages API message: `OPEN_URL` (with `url`) or `REPLY` (`postback`)."""

    text: str
    url: str = ""
    postback: str = ""


@dataclass(frozen=True)
class MessagesApiMessage:
    """One message to one destination through the Messages API (`channel` in Infobip's names:
    `VIBER_BM`, `RCS`, `SMS`, `WHATSAPP`…): a text, or an image with an optional caption, and
    optional buttons."""

    channel: str
    to: str
    sender: str
    message_id: str
    text: str = ""
    media_url: str = ""
    buttons: Sequence[MessagesApiButton] = ()
    callback_data: str | None = None
    notify_url: str | None = None  # delivery and seen reports
    validity_period_minutes: int | None = None
    campaign_reference_id: str | None = None
