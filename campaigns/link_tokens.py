"""A signed token on tracked links, which a shop can pass back with a conversion.

When a campaign tracks its links, each link in a recipient's text gets `?hrd=<token>` (or
`&hrd=`): the ledger row's messageId in base 62 and a 60-bit HMAC of it under SECRET_KEY, so
a token names one message and cannot be guessed or edited into another. The shop keeps it
from the landing URL and posts it with the order (`"token"` in POST /api/v1/conversions);
the conversion is then credited to that message (conversions/attribution.py). Infobip
shortens the links of tracked campaigns, so the longer URL costs no SMS characters. Herald's
own links (the opt-out page) are left alone.
"""

import base64
import hmac
import re
import uuid

from django.conf import settings
from django.utils.crypto import salted_hmac

PARAM = "hrd"
_SALT = "herald.campaigns.link_token"
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_MAC_CHARS = 10
# A URL in a text, without the punctuation that usually ends the sentence around it.
_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}'\""


def _base62(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 62)
        out = _DIGITS[r] + out
        if not n:
            return out


def _mac(head: str) -> str:
    digest = salted_hmac(_SALT, head, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).decode()[:_MAC_CHARS]


def link_token(message_id: uuid.UUID) -> str:
    """The token of one ledger message: base-62 messageId, '-', HMAC (33 characters at most)."""
    head = _base62(message_id.int)
    return f"{head}-{_mac(head)}"


def link_token_message(token: str) -> uuid.UUID | None:
    """The messageId a token names; None for a wrong, edited or malformed token."""
    head, _, mac = str(token).strip().partition("-")
    if not head or len(head) > 22 or any(c not in _DIGITS for c in head):
        return None
    if not hmac.compare_digest(mac.encode(), _mac(head).encode()):
        return None
    value = 0
    for c in head:
        value = value * 62 + _DIGITS.index(c)
    return uuid.UUID(int=value) if value < 2**128 else None


_PARAM = re.compile(rf"([?&]){PARAM}=[A-Za-z0-9_-]*(&?)")


def link_untag(url: str) -> str:
    """A URL without the token links_tag added (what a click's link is, for counting)."""

    def drop(match: re.Match[str]) -> str:
        joiner, more = match.group(1), match.group(2)
        return joiner if more else ""

    return _PARAM.sub(drop, url, count=1)


def links_tag(text: str, token: str) -> str:
    """`text` with the token added to each web link in it (Herald's own links excepted)."""
    own = settings.PUBLIC_BASE_URL.rstrip("/")

    def tag(match: re.Match[str]) -> str:
        url = match.group(0)
        stripped = url.rstrip(_TRAILING)
        tail = url[len(stripped) :]
        if stripped.startswith(own) or f"{PARAM}=" in stripped:
            return url
        base, hash_, fragment = stripped.partition("#")
        joiner = "&" if "?" in base else "?"
        return f"{base}{joiner}{PARAM}={token}{hash_}{fragment}{tail}"

    return _URL.sub(tag, text)
