"""Start-up checks: every registered type's webhooks, settings and prices exist.

A type naming a webhook Herald does not serve, a sender setting that is missing or a price
table that does not exist would only fail at the first send or report: `manage.py check` (run
by every command and the web process) says so first.
"""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from channels.registry import channel_types, mediums
from infobip.links import WEBHOOK_KINDS


@register()
def channel_types_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Each type's webhook paths, sender and length settings, and price tables."""
    problems: list[CheckMessage] = []
    prices = getattr(settings, "HERALD_PRICES", {}) or {}
    for kind in channel_types():
        for path in (kind.report_path, kind.inbound_path):
            if path not in WEBHOOK_KINDS:
                problems.append(
                    Error(f"channel {kind.name}: no webhook {path!r}", id="channels.E001")
                )
        for setting in (kind.sender_setting, kind.max_chars_setting):
            if setting and not hasattr(settings, setting):
                problems.append(
                    Error(f"channel {kind.name}: setting {setting} is missing", id="channels.E002")
                )
        if not any(key in prices for key in kind.price_keys):
            problems.append(
                Warning(
                    f"channel {kind.name}: HERALD_PRICES has no table "
                    f"{' or '.join(kind.price_keys)}: its cost cannot be estimated",
                    id="channels.W001",
                )
            )
    known = {*mediums(), "any"}
    for rule in getattr(settings, "HERALD_FREQUENCY_CAPS", []) or []:
        channel = rule.get("channel", "any") if isinstance(rule, dict) else None
        if channel not in known:
            problems.append(
                Error(
                    f"HERALD_FREQUENCY_CAPS: channel {channel!r} is not one of "
                    f"{', '.join(sorted(known))}",
                    id="channels.E003",
                )
            )
    return problems
