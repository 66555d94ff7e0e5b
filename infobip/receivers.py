"""Where a push's parsed items go: the receiving dispatcher's destinations.

infobip/ parses what Infobip pushes into typed items (delivery reports, seen reports, inbound
messages, clicks, WhatsApp notifications) but owns none of the rules that act on them: the
ledger is campaigns/'s, keywords and the inbox are inbox/'s, templates are whatsapp/'s. Each of
those apps registers its receiver here from its `AppConfig.ready()`, so the receiving path
(infobip.processing) calls down into them without importing them: infobip/ imports nothing
above it, and `lint-imports` checks that it stays so.

A registry filled from `ready()` was chosen over dotted paths in settings: the destination of
each item kind is declared, typed, in the app that owns it (next to the code it names), a
missing or misspelt receiver fails loudly at start-up rather than at the first push, and mypy
checks each receiver's signature against the protocol below.
"""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from infobip.types import DeliveryReport
from infobip.webhooks import ClickNotification, Inbound, SeenReport

Key = tuple[int, int]  # (event id, position in its results)
Unknown = list[tuple[Key, str]]  # items whose messageId the ledger does not know


class ReportsReceiver(Protocol):
    def __call__(self, *, items: Sequence[tuple[Key, DeliveryReport]]) -> Unknown: ...


class SeenReceiver(Protocol):
    def __call__(self, *, items: Sequence[tuple[Key, SeenReport]], now: datetime) -> Unknown: ...


class InboundReceiver(Protocol):
    def __call__(self, *, items: Sequence[tuple[Key, Inbound]]) -> int: ...


class ClicksReceiver(Protocol):
    def __call__(self, *, items: Sequence[tuple[Key, ClickNotification, datetime]]) -> int: ...


class TemplateReceiver(Protocol):
    def __call__(self, *, event: dict[str, Any]) -> Any: ...


class MarketingReceiver(Protocol):
    def __call__(self, *, notifications: Sequence[tuple[str, str, str]]) -> int: ...


@dataclass
class Receivers:
    """One destination per item kind (None until the owning app registers it)."""

    reports: ReportsReceiver | None = None
    seen: SeenReceiver | None = None
    inbound: InboundReceiver | None = None
    clicks: ClicksReceiver | None = None
    template_updates: TemplateReceiver | None = None
    marketing: MarketingReceiver | None = None


_RECEIVERS = Receivers()


def receivers_register(**receivers: Any) -> None:
    """Register destinations by item kind, e.g. `receivers_register(reports=reports_apply)`."""
    known = {f.name for f in fields(Receivers)}
    for kind, receiver in receivers.items():
        if kind not in known:
            raise ImproperlyConfigured(f"no item kind {kind!r} to receive (known: {known})")
        if not callable(receiver):
            raise ImproperlyConfigured(f"the receiver of {kind!r} is not callable")
        setattr(_RECEIVERS, kind, receiver)


def receiver(kind: str) -> Any:
    """The registered destination of `kind`; an item nobody receives is a configuration error."""
    found = getattr(_RECEIVERS, kind, None)
    if found is None:
        raise ImproperlyConfigured(
            f"nothing receives {kind!r} items: is the owning app in INSTALLED_APPS?"
        )
    return found


def receivers_snapshot() -> Receivers:
    """A copy of the registry (tests swap one receiver and put the registry back)."""
    return Receivers(**{f.name: getattr(_RECEIVERS, f.name) for f in fields(Receivers)})


def receivers_restore(saved: Receivers) -> None:
    """Put back a registry taken with `receivers_snapshot()`."""
    for f in fields(Receivers):
        setattr(_RECEIVERS, f.name, getattr(saved, f.name))
