"""The custom call: any Infobip endpoint with the configured key — except message sends.

For connectors that need an endpoint Herald has no feature for (logs, numbers, templates…):
`POST /api/v1/infobip/request` and `manage.py infobip_request`. Sends are refused: a message
sent around the ledger has no messageId of Herald's, skips the consent rules, frequency caps
and quiet hours, and its reports match nothing (`POST /api/v1/messages` is the way to send).
Which calls send is read from Infobip's own OpenAPI documents (every "Send … message"
operation, infobip/openapi/) plus the channels Herald has no document for.
"""

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from core.rules import Actor
from core.services import audit_record
from infobip.client import get_client
from infobip.openapi import load

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Whole channel APIs whose writes send something (no vendored document to read them from).
_CHANNEL_WRITES = re.compile(
    r"^/(viber|rcs|mms|voice|tts|calls|email|kakao|line|zalo|telegram|messenger|instagram-dm|"
    r"apple-mb|2fa|sms/\d+/(text|binary)|whatsapp/\d+/message)(/|$)"
)
_CANONICAL = re.compile(r"^(/[A-Za-z0-9._~\-{}:@]+)+/?$")


class CustomCallRefused(ValueError):
    """A custom call Herald will not make (a message send, or a path that is not plain)."""


@dataclass(frozen=True)
class CustomAnswer:
    """What Infobip answered: its HTTP status and its JSON body (or text)."""

    status: int
    body: Any


@cache
def _documented_sends() -> tuple[re.Pattern[str], ...]:
    """The send operations of the vendored documents, as (method, path pattern)."""
    found = []
    for name in ("sms", "whatsapp", "messages-api"):
        document = load(name)
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                summary = (
                    (operation or {}).get("summary", "") if isinstance(operation, dict) else ""
                )
                if method.upper() != "GET" and re.match(r"(?i)send\b.*\bmessage", summary):
                    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
                    found.append(re.compile(f"^{method.upper()} {pattern}/?$"))
    return tuple(found)


def custom_call_refusal(method: str, path: str) -> str | None:
    """Why Herald will not make this call, or None."""
    if method not in METHODS:
        return f"method: use one of {', '.join(METHODS)}"
    if not path.startswith("/") or "//" in path or not _CANONICAL.match(path):
        return (
            "path: a plain path on the base URL such as /sms/3/logs (no query, no '..', no "
            "escapes; give the query as `query`)"
        )
    if any(part in (".", "..") for part in path.split("/")):
        return "path: no '.' or '..' segments"
    if method == "GET":
        return None
    lowered = path.lower()
    if _CHANNEL_WRITES.match(lowered) or any(
        p.match(f"{method} {lowered}") for p in _documented_sends()
    ):
        return (
            f"{method} {path} sends a message: send through POST /api/v1/messages (the ledger, "
            "consent rules, frequency caps and quiet hours apply there)"
        )
    return None


def infobip_custom_call(
    *, actor: Actor, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None
) -> CustomAnswer:
    """Call any Infobip endpoint that sends no message; audited; Infobip's answer as given."""
    method = method.upper()
    if refusal := custom_call_refusal(method, path):
        raise CustomCallRefused(refusal)
    status, content = get_client().custom_call(method, path, params=query or None, body=body)
    audit_record(actor=actor, action="infobip_request", detail=f"{method} {path} → {status}")
    return CustomAnswer(status, content)
