"""Logging filter that keeps secrets out of every log line (messages and tracebacks alike)."""

import logging
import re
from functools import lru_cache

from django.conf import settings

# `Authorization: App <key>`, `Basic <b64>`, and anything that looks like `api_key=...`.
_PATTERNS = [
    re.compile(r"(App|Basic|Bearer|IBSSO)\s+[A-Za-z0-9+/=._-]{6,}"),
    re.compile(r"(api[_-]?key['\"]?\s*[:=]\s*['\"]?)[^\s'\",]+", re.IGNORECASE),
]
# The webhook token is a path segment: whatever stands there (the current token, an old one
# after a rotation, a guess) is never logged — access logs print every push's path.
_WEBHOOK_PATH = re.compile(r"(/infobip/webhooks/)[^/\s\"'?#]+")


@lru_cache(maxsize=8)
def _secret_pattern(secret: str) -> re.Pattern[str]:
    """`secret` as it may stand in a logged path: each character plain or percent-encoded.

    A request path holds the token with anything around it (`/x/<token>/../`, a trailing byte)
    or escaped (`%54OKEN…`, hex digits in either case): gunicorn's access log prints the raw
    request line, Django the decoded path, so both forms are matched, in any mix.
    """
    parts = []
    for char in secret:
        escaped = "".join(f"%{byte:02X}" for byte in char.encode())
        either_case = re.sub(r"[A-F]", lambda m: f"[{m.group(0)}{m.group(0).lower()}]", escaped)
        parts.append(f"(?:{re.escape(char)}|{either_case})")
    return re.compile("".join(parts))


def redact(text: str) -> str:
    """Replace credentials in `text` with a masked form."""
    text = _WEBHOOK_PATH.sub(r"\1***", text)
    if settings.configured:
        escaped = "%" in text  # the common line has no escape: a plain `in` test decides
        token = settings.INFOBIP_WEBHOOK_TOKEN
        if token and (escaped or token in text):
            # Nothing of the token is shown: unlike a key, it is typed into no form to check.
            text = _secret_pattern(token).sub("***", text)
        key = settings.INFOBIP_API_KEY
        if key and (escaped or key in text):
            text = _secret_pattern(key).sub(mask(key), text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)} ***", text)
    return text


def mask(secret: str) -> str:
    """Show at most the last four characters of a secret."""
    if not secret:
        return ""
    return "***" + secret[-4:] if len(secret) > 8 else "***"


class RedactSecretsFilter(logging.Filter):
    """Rewrite each record's message, traceback and stack so no configured secret is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A record whose arguments do not format: its parts are redacted as they are.
            message = " ".join(str(part) for part in (record.msg, record.args))
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatted now (as the handler's formatter would) so that it is redacted too.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
