"""Logging filter that keeps secrets out of every log line."""

import logging
import re

from django.conf import settings

# `Authorization: App <key>`, `Basic <b64>`, and anything that looks like `api_key=...`.
_PATTERNS = [
    re.compile(r"(App|Basic|Bearer|IBSSO)\s+[A-Za-z0-9+/=._-]{6,}"),
    re.compile(r"(api[_-]?key['\"]?\s*[:=]\s*['\"]?)[^\s'\",]+", re.IGNORECASE),
]
# The webhook token is a path segment: whatever stands there (the current token, an old one
# after a rotation, a guess) is never logged — access logs print every push's path.
_WEBHOOK_PATH = re.compile(r"(/infobip/webhooks/)[^/\s\"'?#]+")


def redact(text: str) -> str:
    """Replace credentials in `text` with a masked form."""
    text = _WEBHOOK_PATH.sub(r"\1***", text)
    if settings.configured:
        for secret in (settings.INFOBIP_API_KEY, settings.INFOBIP_WEBHOOK_TOKEN):
            if secret and secret in text:
                text = text.replace(secret, mask(secret))
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)} ***", text)
    return text


def mask(secret: str) -> str:
    """Show at most the last four characters of a secret."""
    if not secret:
        return ""
    return "***" + secret[-4:] if len(secret) > 8 else "***"


class RedactSecretsFilter(logging.Filter):
    """Rewrite each record's message so no configured secret reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
