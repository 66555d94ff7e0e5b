"""A channel type: everything that differs between the ways Herald reaches a person.

One module per type (channels/sms.py, whatsapp_text.py, whatsapp_template.py, viber.py, rcs.py)
declares a subclass of `ChannelType` and the registry (channels/registry.py) holds one instance
of each. Campaigns, transactional sends, the inbox, the API, the commands and the pages ask the
type instead of comparing channel names, so a new channel is its module, its test and at most
one migration (docs/ADDING_A_CHANNEL.md). RapidPro's `temba/channels/types/<type>/type.py` is
the model: a type declares its facts, everything else iterates the registry.

Vocabulary, so the five words for "channel" stay apart:
- `name` — the channel type, what a campaign, the CLI, the API and the wizard say (`sms`,
  `whatsapp_text`, `whatsapp_template`, `viber`, `rcs`);
- `ledger` — the medium a message travels on, stored in `Message.channel`, inbound messages,
  consent and caps (`sms`, `whatsapp`, `viber`, `rcs`): two WhatsApp types share one medium;
- `infobip_channel` — Infobip's own name (`SMS`, `WHATSAPP`, `VIBER_BM`, `RCS`), used in the
  Messages API and its report pulls;
- `report_path` / `inbound_path` — the webhook (`infobip.links.WEBHOOK_KINDS`) Infobip pushes to.

Infobip's request shapes stay in infobip/ (bodies.py, types.py): a type builds infobip's typed
messages and calls the client's method; it never builds JSON or talks HTTP itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.conf import settings

from infobip.client import InfobipClient
from infobip.types import SendResult

# What a message of a type can carry besides its text.
TEXT, TEMPLATE, IMAGE, BUTTONS = "text", "template", "image", "buttons"
# How a type's validity is enforced: sent to Infobip (`validityPeriod`, at most 48 h), or by
# Herald's own expiry sweep (Infobip's WhatsApp endpoints have no validity field).
PROVIDER, HERALD = "provider", "herald"
PROVIDER_VALIDITY_MAX_MINUTES = 2880


@dataclass(frozen=True)
class Button:
    """A button under a message: opens `url` when given, else a reply carrying `postback`."""

    text: str
    url: str = ""
    postback: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Button:
        return cls(
            text=str(data.get("text") or ""),
            url=str(data.get("url") or ""),
            postback=str(data.get("postback") or ""),
        )

    def to_dict(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (("text", self.text), ("url", self.url), ("postback", self.postback))
            if v
        }


@dataclass(frozen=True)
class Regional:
    """What a campaign (or a journey step, a transactional send) says for countries' rules.

    channels/regional.py turns it into Infobip's regional fields per destination country:
    India's DLT content template, Turkey's IYS recipient type (for recipients whose contact
    attribute has none), South Korea's message title. `promotional` is false for transactional
    sends, which Turkey's IYS does not cover.
    """

    dlt_template_id: str = ""
    iys_recipient_type: str = ""
    kr_title: str = ""
    promotional: bool = True


@dataclass(frozen=True)
class Content:
    """What one step of a campaign (or a transactional send) says, before any contact."""

    text: str = ""
    template: Any = None  # whatsapp.models.WhatsAppTemplate, for types with TEMPLATE
    mapping: Mapping[str, Any] | None = None
    media_url: str = ""
    buttons: tuple[Button, ...] = ()
    regional: Regional = Regional()


@dataclass(frozen=True)
class Outbound:
    """One ledger row ready to go: everything a type needs to build Infobip's message.

    `options` carries per-recipient provider options decided before sending (a sender chosen
    per country, regional fields such as India's DLT ids): the body builder passes on what its
    API knows and ignores the rest.
    """

    to: str  # international digits, no "+" (Infobip's format)
    message_id: str
    text: str
    sender: str
    notify_url: str
    callback_data: str | None = None
    values: Mapping[str, Any] | None = None  # a template's resolved values
    validity_minutes: int | None = None
    tracking: Mapping[str, Any] | None = None
    content: Content = field(default_factory=Content)
    sms_failover: tuple[str, str] | None = None  # Infobip's native (sender, text) failover
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class SendOutcome:
    """Infobip's answer to a batch, plus the messages it refused one by one (4xx).

    Batch endpoints refuse the whole request (the caller fails every row); endpoints that take
    one recipient per request refuse message by message, and the rest of the batch still goes.
    """

    result: SendResult
    refused: list[tuple[str, str]] = field(default_factory=list)  # (messageId, reason)


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def utf16_length(text: str) -> int:
    """Length in UTF-16 units, as Infobip's (Java) validation counts: an emoji counts 2."""
    return len(text.encode("utf-16-le")) // 2


class ChannelType:
    """The facts and behaviour of one channel type; subclasses set the class attributes."""

    name: ClassVar[str]  # the public value: Campaign.channel, CLI, API, wizard
    label: ClassVar[str]
    ledger: ClassVar[str]  # Message.channel: the medium (two WhatsApp types share one)
    medium_label: ClassVar[str]  # how people call the medium: "SMS", "WhatsApp"
    infobip_channel: ClassVar[str]  # Infobip's name of the channel
    content_kinds: ClassVar[frozenset[str]] = frozenset({TEXT})
    # The sender it takes: "sms" (a number or an alphanumeric id), "whatsapp" (a registered
    # number), "viber" (a service id), "rcs" (an agent id). Senders per country plug in here.
    sender_kind: ClassVar[str]
    sender_setting: ClassVar[str]  # the setting holding the default sender
    max_chars_setting: ClassVar[str | None] = None
    report_path: ClassVar[str]  # where Infobip pushes its delivery (and seen) reports
    inbound_path: ClassVar[str]  # where Infobip pushes inbound messages of the medium
    report_pull: ClassVar[str]  # "sms" (/sms/3/reports) or "messages-api" (?channel=…)
    # Infobip keeps logs Herald can look a send up in by messageId (/sms/3/logs: SMS only):
    # without them an unknown send can only be expired once its validity is surely over.
    log_lookup: ClassVar[bool] = False
    validity: ClassVar[str] = PROVIDER
    session_window: ClassVar[dt.timedelta | None] = None  # free-form only after an inbound
    session_field: ClassVar[str | None] = None  # the Contact field of the last inbound
    opt_in_setting: ClassVar[str | None] = None  # when that setting is on, an opt-in is needed
    fallback_step: ClassVar[bool] = False  # may follow another step of a fallback chain
    price_keys: ClassVar[tuple[str, ...]]  # HERALD_PRICES tables tried in order
    priced_per_part: ClassVar[bool] = False
    reply: ClassVar[bool] = False  # inbox replies on its medium go out as this type
    # Links in a journey's send step are tracked unless it says otherwise (SMS, where a short
    # link also saves characters).
    tracks_links_by_default: ClassVar[bool] = False
    max_buttons: ClassVar[int] = 0
    # Types Infobip itself can fail over to on the same request (WhatsApp template → SMS).
    native_fallback: ClassVar[tuple[str, ...]] = ()
    # The chain the wizard offers ready to use (WhatsApp, Viber, RCS → SMS); none for SMS.
    default_fallback: ClassVar[tuple[str, ...]] = ()
    # What destination countries require of its messages (channels/regional.py): each rule
    # says what would be refused before launch and which regional fields a message carries.
    regional_rules: ClassVar[tuple[Any, ...]] = ()
    # Infobip's conversion tracking (/ct/1/log/end/{messageId}) exists for its messages: with
    # HERALD_INFOBIP_CONVERSIONS on they are sent tracked and conversions credited to them are
    # forwarded (conversions.services.conversions_forward).
    conversion_tracking: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"<channel type {self.name}>"

    # --- facts read from settings ----------------------------------------------------------

    def default_sender(self) -> str:
        """The configured sender of this type (a campaign's own sender wins over it)."""
        return str(getattr(settings, self.sender_setting, "") or "")

    def tracks_conversions(self) -> bool:
        """Whether its sends ask Infobip to track conversions (the type can, the setting is on)."""
        return self.conversion_tracking and bool(settings.HERALD_INFOBIP_CONVERSIONS)

    def max_chars(self) -> int | None:
        """The longest text Herald sends on this type (refused, never truncated)."""
        if self.max_chars_setting is None:
            return None
        return int(getattr(settings, self.max_chars_setting))

    def opt_in_required(self) -> bool:
        """Whether its recipients need an opt-in on record for its medium."""
        return bool(self.opt_in_setting and getattr(settings, self.opt_in_setting, False))

    @property
    def uses_template(self) -> bool:
        return TEMPLATE in self.content_kinds

    # --- texts ----------------------------------------------------------------------------

    def measure(self, text: str) -> tuple[int, str]:
        """(parts, encoding) of a text on this type: one message, no encoding, by default."""
        return 1, ""

    def costly_characters(self, text: str) -> tuple[str, ...]:
        """Characters that make the text cost more on this type (UCS-2 on SMS), in order."""
        return ()

    def length(self, text: str) -> int:
        return utf16_length(text)

    def cap_check(self, text: str, *, max_chars: int | None = None) -> str | None:
        """Why a text is too long for this type, else None (never truncated)."""
        cap = self.max_chars() if max_chars is None else max_chars
        if cap is None:
            return None
        length = self.length(text)
        if length <= cap:
            return None
        return f"{self.medium_label} text is {plural(length, 'character')}; the limit is {cap:,}"

    def content_problems(self, content: Content) -> list[str]:
        """Why this content cannot be sent on this type (sentences), before any contact."""
        return [p for problems in self.content_field_problems(content).values() for p in problems]

    def content_field_problems(self, content: Content) -> dict[str, list[str]]:
        """The same, by the field at fault (`text`, `image`, `buttons`, `template`)."""
        if self.uses_template:
            problems = self.template_problems(content)
            return {"template": problems} if problems else {}
        found: dict[str, list[str]] = {}
        if not content.text.strip() and not (IMAGE in self.content_kinds and content.media_url):
            found["text"] = ["the message text is empty"]
        elif problem := self.cap_check(content.text):
            found["text"] = [problem]
        if content.media_url:
            if IMAGE not in self.content_kinds:
                found["image"] = [f"{self.label} messages cannot carry an image"]
            elif not content.media_url.startswith("https://"):
                found["image"] = ["the image needs an https:// URL"]
        if content.buttons:
            problems = []
            if BUTTONS not in self.content_kinds:
                problems.append(f"{self.label} messages cannot carry buttons")
            elif len(content.buttons) > self.max_buttons:
                problems.append(f"{self.label} takes at most {plural(self.max_buttons, 'button')}")
            problems += self.button_problems(content.buttons)
            if problems:
                found["buttons"] = problems
        return found

    def button_problems(self, buttons: Sequence[Button]) -> list[str]:
        return []

    def sendable_problem(self, content: Content) -> str | None:
        """Why the content cannot go out right now (a template paused upstream), else None."""
        return None

    def template_problems(self, content: Content) -> list[str]:
        raise NotImplementedError(f"{self.name} has no templates")

    def render_template(
        self, content: Content, contact: Any
    ) -> tuple[str, dict[str, Any] | None, str]:
        """(text shown in Herald, values to store, why not) of a template for one contact."""
        raise NotImplementedError(f"{self.name} has no templates")

    def template_fields(self, values: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError(f"{self.name} has no templates")

    def template_lookup(self, *, sender: str, name: str, language: str) -> Any:
        """The synced template `name` (`language`) of `sender`, or None."""
        raise NotImplementedError(f"{self.name} has no templates")

    def normalise_sender(self, sender: str) -> str:
        """The sender as Infobip takes it; ValueError (with why) when it is not one."""
        sender = (sender or "").strip()
        if len(sender) > 64:
            raise ValueError("a sender is at most 64 characters")
        return sender

    def sender_problem(self, *, country: str, sender: str) -> str:
        """Why `sender` cannot reach `country` on this type ('' when it can): the reason only,
        each caller says what to do about it."""
        return ""

    # --- sessions ---------------------------------------------------------------------------

    def session_skip(self, last_inbound: dt.datetime | None, now: dt.datetime) -> str:
        """Why a free-form message cannot go now (outside the session window), else ''."""
        if self.session_window is None:
            return ""
        if last_inbound is None or now - last_inbound > self.session_window:
            hours = int(self.session_window.total_seconds() // 3600)
            return (
                f"outside the {self.medium_label} {hours}-hour window "
                f"(no message from them in {hours} h)"
            )
        return ""

    def session_reason(self, phone: str, last_inbound: dt.datetime | None, now: dt.datetime) -> str:
        """Why a free-form message cannot go to `phone` now, in words for people ('' inside)."""
        window = self.session_window
        if window is None:
            return ""
        hours, medium = int(window.total_seconds() // 3600), self.medium_label
        if last_inbound is None:
            return (
                f"{phone} has never written to us on {medium}: free-form messages are only "
                f"allowed within {hours} hours of their last message; send an approved template "
                "instead"
            )
        if now - last_inbound > window:
            ago = int((now - last_inbound).total_seconds() // 3600)
            return (
                f"the {hours}-hour {medium} window with {phone} closed: their last message was "
                f"{ago} h ago ({last_inbound:%Y-%m-%d %H:%M} UTC); send an approved template "
                "instead"
            )
        return ""

    # --- sending ----------------------------------------------------------------------------

    def send(
        self,
        client: InfobipClient,
        messages: Sequence[Outbound],
        *,
        bulk_id: str | None = None,
        tracking: Mapping[str, Any] | None = None,
    ) -> SendOutcome:
        """Hand `messages` to Infobip (one request per batch where the API allows it)."""
        raise NotImplementedError
