"""Logging filter that keeps secrets out of every log line."""

import logging
import re

from django.conf import settings

# `Authorization: App <key>`, `Basic <b64>`, and anything that looks like `api_key=...`.
_PATTERNS = [
    re.compile(r"(App|Basic|Bearer|IBSSO)\s+[A-Za-z0-9+/=._-]{6,}"),
    re.compile(r"(api[_-]?key['\"]?\s*[:=]\s*['\"]?)[^\s'\",]+", re.IGNORECASE),
]


def redact(text: str) -> str:
    """Replace credentials in `text` with a masked form."""
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
