"""Every channel type Herald knows, and the vocabularies derived from them.

The built-in types are listed here (as RapidPro lists its types in settings); a deployment may
add its own with HERALD_CHANNEL_TYPES (dotted paths to ChannelType subclasses), and a test can
`register()` a throw-away type for the length of a `with registered(...)` block. Model
choices, the CLI's and the API's enums and the wizard's radio buttons are read from here when
they are used, not when modules load, so a registered type shows everywhere with no other
change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from threading import RLock

from django.conf import settings
from django.utils.module_loading import import_string

from channels.base import ChannelType

BUILTIN = (
    "channels.sms.Sms",
    "channels.whatsapp_text.WhatsAppText",
    "channels.whatsapp_template.WhatsAppTemplate",
    "channels.viber.Viber",
    "channels.rcs.Rcs",
)

_TYPES: dict[str, ChannelType] = {}
_LOADED = False
_LOCK = RLock()
# Called after a type is added or removed at run time: caches of the vocabularies (the API
# schema's enum names) drop what they derived from the old set.
_ON_CHANGE: list[Callable[[], None]] = []


class UnknownChannel(ValueError):
    """A channel name no registered type has."""


def _load() -> None:
    global _LOADED
    with _LOCK:
        if _LOADED:
            return
        for path in (*BUILTIN, *getattr(settings, "HERALD_CHANNEL_TYPES", ())):
            _add(import_string(path)())
        _LOADED = True


def _add(kind: ChannelType) -> None:
    for attribute in (
        "name",
        "label",
        "ledger",
        "medium_label",
        "infobip_channel",
        "sender_kind",
        "sender_setting",
        "report_path",
        "inbound_path",
        "report_pull",
        "price_keys",
    ):
        if not getattr(kind, attribute, None):
            raise TypeError(f"channel type {type(kind).__name__} does not declare {attribute}")
    _TYPES[kind.name] = kind


def register(kind: ChannelType) -> ChannelType:
    """Add a channel type (or replace the one of the same name); returns it."""
    _load()
    with _LOCK:
        _add(kind)
    _changed()
    return kind


def unregister(name: str) -> None:
    """Remove a registered channel type (tests put the registry back this way)."""
    _load()
    with _LOCK:
        _TYPES.pop(name, None)
    _changed()


def on_change(callback: Callable[[], None]) -> None:
    """Call `callback` whenever a type is registered or unregistered at run time."""
    if callback not in _ON_CHANGE:
        _ON_CHANGE.append(callback)


def _changed() -> None:
    for callback in _ON_CHANGE:
        callback()


@contextmanager
def registered(kind: ChannelType) -> Iterator[ChannelType]:
    """Register `kind` for the length of the block (a throw-away type in a test)."""
    previous = _types().get(kind.name)
    register(kind)
    try:
        yield kind
    finally:
        if previous is None:
            unregister(kind.name)
        else:
            register(previous)


def _types() -> dict[str, ChannelType]:
    _load()
    return _TYPES


def channel_types() -> list[ChannelType]:
    """Every registered type, in registration order (built-ins first)."""
    return list(_types().values())


def channel_type(name: str) -> ChannelType:
    """The type named `name`; UnknownChannel (a ValueError) for anything else."""
    try:
        return _types()[name]
    except (KeyError, TypeError):
        raise UnknownChannel(
            f"unknown channel {name!r}; use one of {', '.join(channel_names())}"
        ) from None


def channel_names() -> list[str]:
    return list(_types())


def channel_choices() -> list[tuple[str, str]]:
    """(name, label) of every type: Campaign.channel's choices, the API's enum, the wizard."""
    return [(kind.name, kind.label) for kind in _types().values()]


def mediums() -> list[str]:
    """The ledger channels (Message.channel values), each once, in registration order."""
    return list(dict.fromkeys(kind.ledger for kind in _types().values()))


def conversion_mediums() -> list[str]:
    """The ledger channels whose messages Infobip tracks conversions of (SMS)."""
    return list(dict.fromkeys(k.ledger for k in _types().values() if k.conversion_tracking))


def medium_choices() -> list[tuple[str, str]]:
    """(medium, label): Message.channel's and inbound messages' choices, filters and caps."""
    labels: dict[str, str] = {}
    for kind in _types().values():
        labels.setdefault(kind.ledger, kind.medium_label)
    return list(labels.items())


def medium_label(medium: str) -> str:
    """How people call a medium ("WhatsApp"); the raw value when no type has it."""
    return dict(medium_choices()).get(medium, medium)


def types_of_medium(medium: str) -> list[ChannelType]:
    return [kind for kind in _types().values() if kind.ledger == medium]


def reply_type(medium: str) -> ChannelType:
    """The type an inbox reply on `medium` goes out as (free text on that medium)."""
    for kind in types_of_medium(medium):
        if kind.reply:
            return kind
    raise UnknownChannel(f"replies cannot be sent on {medium!r}")


def reply_mediums() -> list[tuple[str, str]]:
    """(medium, label) of the mediums the inbox can reply on."""
    return [(m, label) for m, label in medium_choices() if any(k.reply for k in types_of_medium(m))]


def type_for_infobip(infobip_channel: str) -> ChannelType | None:
    """The first type Infobip calls `infobip_channel` (any casing: `VIBER_BM`, `sms`)."""
    wanted = (infobip_channel or "").upper()
    for kind in _types().values():
        if kind.infobip_channel == wanted:
            return kind
    return None


def medium_for_infobip(infobip_channel: str) -> str:
    """The medium of Infobip's channel name; Infobip's name lower-cased when no type has it."""
    kind = type_for_infobip(infobip_channel)
    return kind.ledger if kind else (infobip_channel or "").lower()[:16]


def messages_api_pulls() -> list[str]:
    """Infobip channel names whose reports are pulled from /messages-api/1/reports."""
    return list(
        dict.fromkeys(k.infobip_channel for k in _types().values() if k.report_pull != "sms")
    )


def fallback_choices() -> list[tuple[str, str]]:
    """(name, label) of the types that may be a step of a fallback chain."""
    return [(kind.name, kind.label) for kind in _types().values() if kind.fallback_step]


def import_builtins() -> None:
    """Import the built-in modules (AppConfig.ready: a broken module fails at start-up)."""
    for path in BUILTIN:
        import_module(path.rsplit(".", 1)[0])
    _load()
