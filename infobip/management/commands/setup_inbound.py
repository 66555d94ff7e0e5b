"""setup_inbound: forward a number's inbound SMS/WhatsApp to Herald through Infobip's API."""

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.logging import mask
from infobip.client import get_client
from infobip.errors import InfobipError
from infobip.links import webhook_url
from infobip.types import InboundConfiguration

WEBHOOK = {"sms": "sms/inbound", "whatsapp": "whatsapp/inbound"}


class Command(BaseCommand):
    """Register, remove or list Herald's inbound forwarding on an Infobip number."""

    help = (
        "Forward a number's inbound messages (optionally one keyword's) to Herald's webhook via "
        "Infobip's inbound-message configuration API; --remove undoes it, --list shows them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--channel", required=True, choices=sorted(WEBHOOK))
        parser.add_argument("--number", help="the Infobip number, international digits")
        parser.add_argument("--keyword", help="only messages starting with this keyword")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--remove", action="store_true", help="remove Herald's forwarding")
        action.add_argument(
            "--list", action="store_true", dest="show", help="show the configurations"
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="replace a configuration of the same number/keyword that forwards elsewhere",
        )
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(
        self,
        *args: str,
        channel: str,
        number: str | None,
        keyword: str | None,
        remove: bool,
        show: bool,
        replace: bool,
        as_json: bool,
        **_: Any,
    ) -> None:
        number = (number or "").strip().lstrip("+").replace(" ", "") or None
        keyword = (keyword or "").strip().upper() or None
        if number is not None and not number.isdigit():
            raise CommandError(f"--number {number!r} must be digits in international format")
        if keyword is not None and (len(keyword) > 50 or " " in keyword):
            raise CommandError("--keyword must be one word of at most 50 characters")
        if not show and number is None:
            raise CommandError("--number is required (except with --list)")
        if not show and not settings.INFOBIP_WEBHOOK_TOKEN:
            raise CommandError("INFOBIP_WEBHOOK_TOKEN is not set: Herald's webhooks refuse pushes")
        url = webhook_url(WEBHOOK[channel])
        try:
            if show:
                report = self._list(channel, number, url)
            elif remove:
                assert number is not None  # required unless --list (checked above)
                report = self._remove(channel, number, keyword, url)
            else:
                assert number is not None
                report = self._add(channel, number, keyword, url, replace)
        except InfobipError as exc:
            raise CommandError(f"Infobip refused: {exc}") from exc
        if as_json:
            self.stdout.write(_dumps(report))
        else:
            for row in report.get("configurations", []):
                self.stdout.write(_line(row))
            self.stdout.write(report["summary"])

    def _matching(
        self, channel: str, number: str, keyword: str | None
    ) -> list[InboundConfiguration]:
        found = get_client().list_inbound_configurations(channel=channel, number=number)
        # The API's keyword filter is exact; compare case-insensitively, None = catch-all.
        return [c for c in found if (c.keyword or "").upper() == (keyword or "")]

    def _add(
        self, channel: str, number: str, keyword: str | None, url: str, replace: bool
    ) -> dict[str, Any]:
        existing = self._matching(channel, number, keyword)
        if any(c.forwarding_type == "HTTP_FORWARD" and c.url == url for c in existing):
            return _report("unchanged", channel, number, keyword, existing, url)
        if existing and not replace:
            raise CommandError(
                f"{number} already has an inbound configuration for "
                f"{_keyword_label(keyword)} that does not forward to Herald "
                f"({', '.join(map(_describe, existing))}); rerun with --replace"
            )
        client = get_client()
        for config in existing:
            client.delete_inbound_configuration(config.configuration_key)
        created = client.create_inbound_configuration(
            channel=channel, number=number, keyword=keyword, url=url
        )
        return _report("created", channel, number, keyword, [created], url)

    def _remove(self, channel: str, number: str, keyword: str | None, url: str) -> dict[str, Any]:
        ours = [c for c in self._matching(channel, number, keyword) if c.url == url]
        for config in ours:
            get_client().delete_inbound_configuration(config.configuration_key)
        return _report("removed" if ours else "absent", channel, number, keyword, ours, url)

    def _list(self, channel: str, number: str | None, url: str) -> dict[str, Any]:
        found = get_client().list_inbound_configurations(channel=channel, number=number)
        rows = [_row(c, url) for c in found]
        ours = sum(1 for row in rows if row["herald"])
        where = f" for {number}" if number else ""
        return {
            "action": "list",
            "configurations": rows,
            "summary": f"{channel} inbound configurations{where}: {len(rows)} ({ours} to Herald)",
        }


def _report(
    action: str,
    channel: str,
    number: str,
    keyword: str | None,
    configs: list[InboundConfiguration],
    url: str,
) -> dict[str, Any]:
    what = {
        "created": "now forwards to Herald",
        "unchanged": "already forwards to Herald (nothing changed)",
        "removed": "no longer forwards to Herald",
        "absent": "had no forwarding to Herald (nothing removed)",
    }[action]
    return {
        "action": action,
        "channel": channel,
        "number": number,
        "keyword": keyword,
        "url": _masked(url),
        "configurations": [_row(c, url) for c in configs],
        "summary": f"{channel} {number} {_keyword_label(keyword)}: {what}",
    }


def _row(config: InboundConfiguration, url: str) -> dict[str, Any]:
    return {
        "configuration_key": config.configuration_key,
        "channel": config.channel,
        "number": config.number,
        "keyword": config.keyword,
        "forwarding": config.forwarding_type,
        "url": _masked(config.url or ""),
        "herald": config.url == url,
    }


def _line(row: dict[str, Any]) -> str:
    mark = "*" if row["herald"] else " "
    keyword = row["keyword"] or "(all messages)"
    return (
        f"{mark} {row['configuration_key']} {row['channel']} {row['number'] or '?'} {keyword} "
        f"{row['forwarding'] or '-'} {row['url']}"
    )


def _keyword_label(keyword: str | None) -> str:
    return f"keyword {keyword}" if keyword else "all messages"


def _describe(config: InboundConfiguration) -> str:
    return (
        f"{config.configuration_key}: {config.forwarding_type or '?'} {_masked(config.url or '')}"
    )


def _masked(url: str) -> str:
    # The webhook token is a secret: terminals and CI logs only ever see it masked.
    token = settings.INFOBIP_WEBHOOK_TOKEN
    return url.replace(token, mask(token)) if token and url else url


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1)
