"""check_infobip: prove the configured base URL and API key work, or say why they do not."""

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.logging import mask
from infobip.client import get_client
from infobip.errors import (
    InfobipAuthError,
    InfobipConfigError,
    InfobipConnectionError,
    InfobipError,
    InfobipServerError,
    InfobipThrottledError,
    InfobipUnexpectedResponseError,
)
from infobip.openapi import find_operation

CHECK_METHOD, CHECK_PATH = "GET", "/sms/3/logs"
# What Herald calls, by scope (docs/CONFIGURATION.md "Pointing Herald at a real Infobip account").
HERALD_SCOPES = (
    "sms:message:send",
    "sms:logs:read",
    "sms:inbound-message:read",
    "whatsapp:message:send",
    "whatsapp:manage",
)


class Command(BaseCommand):
    """Validate INFOBIP_BASE_URL and INFOBIP_API_KEY against Infobip; exit 1 with the reason."""

    help = "Check the Infobip base URL and API key (a cheap read of SMS logs); exit 1 on failure."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: str, **options: Any) -> None:
        sandbox = bool(settings.INFOBIP_SANDBOX)
        key = settings.INFOBIP_SANDBOX_API_KEY if sandbox else settings.INFOBIP_API_KEY
        report = {
            "ok": False,
            "sandbox": sandbox,
            "base_url": settings.INFOBIP_SANDBOX_URL if sandbox else settings.INFOBIP_BASE_URL,
            "api_key": mask(key or ""),
            "endpoint": f"{CHECK_METHOD} {CHECK_PATH}",
            "status_code": None,
            "error_code": None,
            "reason": "",
        }
        try:
            client = get_client()
            report["base_url"] = client.base_url
            client.check_credentials()
        except InfobipError as exc:
            report.update(
                status_code=exc.status_code,
                error_code=exc.error_code,
                reason=explain(exc, base_url=str(report["base_url"]), sandbox=sandbox),
            )
        else:
            report["ok"] = True
            where = "the local sandbox" if sandbox else "Infobip"
            report["reason"] = f"{where} at {report['base_url']} accepted the API key"
        if options["json"]:
            self.stdout.write(json.dumps(report))
        if not report["ok"]:
            raise CommandError(f"check_infobip failed: {report['reason']}")
        if not options["json"]:
            self.stdout.write(
                self.style.SUCCESS(f"check_infobip ok: {report['reason']} ({report['api_key']})")
            )


def explain(exc: InfobipError, *, base_url: str, sandbox: bool) -> str:
    """One sentence an operator can act on, for each way the check can fail."""
    status = f"HTTP {exc.status_code}" + (f" {exc.error_code}" if exc.error_code else "")
    url_setting = "INFOBIP_SANDBOX_URL" if sandbox else "INFOBIP_BASE_URL"
    key_setting = "INFOBIP_SANDBOX_API_KEY" if sandbox else "INFOBIP_API_KEY"
    if isinstance(exc, InfobipConfigError):
        return f"configuration error: {exc.description}"
    if isinstance(exc, InfobipAuthError) and exc.status_code == 403:
        return (
            f"the API key is valid but lacks the scope for {CHECK_METHOD} {CHECK_PATH} "
            f"({status}): give it {' or '.join(_scopes())}; Herald needs "
            f"{', '.join(HERALD_SCOPES)}"
        )
    if isinstance(exc, InfobipAuthError):
        return (
            f"Infobip rejected the API key ({status}: {exc.description}); check {key_setting} "
            "(mistyped, revoked or expired?)"
        )
    if isinstance(exc, InfobipConnectionError):
        hint = (
            "is the sandbox running? (`make run` starts it)"
            if sandbox
            else "use your personal base URL from the Infobip portal (xxxxx.api.infobip.com)"
        )
        return f"{exc.description}; check {url_setting}, {hint}"
    if isinstance(exc, InfobipThrottledError):
        return f"Infobip throttled the check ({status}); try again in a minute"
    if isinstance(exc, InfobipServerError):
        return f"Infobip failed to answer ({status}: {exc.description}); try again later"
    if isinstance(exc, InfobipUnexpectedResponseError) or exc.status_code in (404, 405):
        return (
            f"{base_url} does not look like Infobip's API ({exc}); check {url_setting} "
            "(your personal xxxxx.api.infobip.com)"
        )
    return f"Infobip refused the check ({exc})"


def _scopes() -> list[str]:
    operation = find_operation(CHECK_METHOD, CHECK_PATH)
    scopes = operation.spec.get("x-scopes") if operation else None
    return list(scopes or ["sms:logs:read"])
