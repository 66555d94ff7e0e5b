"""infobip_request: call any Infobip endpoint with the configured credentials (a custom call).

Message sends are refused, as in `POST /api/v1/infobip/request` (infobip/custom.py): every
command that sends a message goes through the ledger and the consent rules.
"""

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.rules import OPERATOR
from core.services import audit_record
from infobip.client import get_client
from infobip.custom import custom_call_refusal
from infobip.errors import InfobipError

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class Command(BaseCommand):
    """`infobip_request METHOD PATH [--json BODY|@FILE]`: print Infobip's JSON answer."""

    help = (
        "Call any Infobip endpoint with the configured base URL, key, timeouts and retries, "
        "and print the JSON answer (the key is never printed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("method", type=str.upper, choices=METHODS)
        parser.add_argument("path", help="path on the base URL, query allowed: /sms/3/logs?limit=1")
        parser.add_argument("--json", dest="body", help="JSON body, or @FILE to read it (@- stdin)")

    def handle(self, *args: str, **options: Any) -> None:
        method, path = options["method"], options["path"]
        parts = urlsplit(path)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            raise CommandError(f"{path!r}: give a path such as /sms/3/logs, not a URL")
        params = dict(parse_qsl(parts.query, keep_blank_values=True)) or None
        if refusal := custom_call_refusal(method, parts.path):
            raise CommandError(refusal)
        body = _body(options["body"])
        try:
            answer = get_client().custom_request(method, parts.path, params=params, body=body)
        except InfobipError as exc:
            raise CommandError(f"{method} {parts.path} failed: {exc}") from None
        audit_record(actor=OPERATOR, action="infobip_request", detail=f"{method} {parts.path}")
        self.stdout.write(json.dumps(answer, indent=2, ensure_ascii=False))


def _body(raw: str | None) -> Any:  # the JSON document given, as parsed
    if raw is None:
        return None
    if raw.startswith("@"):
        name = raw[1:]
        try:
            raw = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {name}: {exc.strerror}") from None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise CommandError(f"--json is not valid JSON: {exc}") from None
