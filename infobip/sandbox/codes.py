"""Infobip status and error objects, SMS part counting and timestamps, as the sandbox reports them.

Ids and names follow docs/INFOBIP.md §9 (Infobip's response-status and error-code table); the
short descriptions are the ones Infobip's own examples show.
"""

import math
import re
import time
from functools import lru_cache
from typing import Any

# (groupId, groupName, id, name, description)
STATUSES: dict[str, tuple[int, str, int, str, str]] = {
    "PENDING_ACCEPTED": (1, "PENDING", 26, "PENDING_ACCEPTED", "Message sent to next instance"),
    "PENDING_ENROUTE": (1, "PENDING", 7, "PENDING_ENROUTE", "Message sent to next instance"),
    "DELIVERED_TO_OPERATOR": (
        3,
        "DELIVERED",
        2,
        "DELIVERED_TO_OPERATOR",
        "Message delivered to operator",
    ),
    "DELIVERED_TO_HANDSET": (
        3,
        "DELIVERED",
        5,
        "DELIVERED_TO_HANDSET",
        "Message delivered to handset",
    ),
    "UNDELIVERABLE_NOT_DELIVERED": (
        2,
        "UNDELIVERABLE",
        9,
        "UNDELIVERABLE_NOT_DELIVERED",
        "Message sent not delivered",
    ),
    "UNDELIVERABLE_REJECTED_OPERATOR": (
        2,
        "UNDELIVERABLE",
        4,
        "UNDELIVERABLE_REJECTED_OPERATOR",
        "Message rejected by operator",
    ),
    "EXPIRED_EXPIRED": (4, "EXPIRED", 15, "EXPIRED_EXPIRED", "Message expired"),
    "REJECTED_DESTINATION": (
        5,
        "REJECTED",
        52,
        "REJECTED_DESTINATION",
        "Invalid destination address",
    ),
    "REJECTED_NETWORK": (5, "REJECTED", 6, "REJECTED_NETWORK", "Network is forbidden"),
}

# (groupId, groupName, id, name, description, permanent)
ERRORS: dict[str, tuple[int, str, int, str, str, bool]] = {
    "NO_ERROR": (0, "OK", 0, "NO_ERROR", "No Error", False),
    "EC_UNKNOWN_SUBSCRIBER": (
        1,
        "HANDSET_ERRORS",
        1,
        "EC_UNKNOWN_SUBSCRIBER",
        "Unknown Subscriber",
        True,
    ),
    "EC_ABSENT_SUBSCRIBER": (
        1,
        "HANDSET_ERRORS",
        27,
        "EC_ABSENT_SUBSCRIBER",
        "Absent Subscriber",
        False,
    ),
    "EC_ILLEGAL_SUBSCRIBER": (
        1,
        "HANDSET_ERRORS",
        9,
        "EC_ILLEGAL_SUBSCRIBER",
        "Illegal Subscriber",
        True,
    ),
    "EC_INVALID_DESTINATION_ADDRESS": (
        2,
        "USER_ERRORS",
        351,
        "EC_INVALID_DESTINATION_ADDRESS",
        "Invalid destination address",
        False,
    ),
    # India's DLT scrubbing (ids from the error-code table in docs/INFOBIP.md §9; the table
    # names no group for them: Infobip's operator-error group is assumed).
    "EC_BLOCKED_BY_DLT": (
        3,
        "OPERATOR_ERRORS",
        4106,
        "EC_BLOCKED_BY_DLT",
        "Blocked by the DLT provider (regulatory compliance, sender or template registration)",
        True,
    ),
    "EC_INVALID_TEMPLATE_ID": (
        3,
        "OPERATOR_ERRORS",
        4133,
        "EC_INVALID_TEMPLATE_ID",
        "The DLT content template id is invalid or does not exist",
        True,
    ),
    # WhatsApp ("chat") client errors, group 1.
    "EC_UNKNOWN_USER": (
        1,
        "HANDSET_ERRORS",
        7002,
        "EC_UNKNOWN_USER",
        "User is not on WhatsApp",
        True,
    ),
    "EC_INVALID_TEMPLATE_ARGS": (
        1,
        "HANDSET_ERRORS",
        7008,
        "EC_INVALID_TEMPLATE_ARGS",
        "Invalid template arguments",
        True,
    ),
    "EC_INVALID_TEMPLATE": (
        1,
        "HANDSET_ERRORS",
        7009,
        "EC_INVALID_TEMPLATE",
        "Invalid template",
        True,
    ),
    "EC_NO_SESSION": (
        1,
        "HANDSET_ERRORS",
        7010,
        "EC_NO_SESSION",
        "No open customer service window",
        True,
    ),
}

OUTCOMES = ("delivered", "undeliverable", "expired", "rejected")

# Final (status, error) pairs per outcome; a message's hash picks one variant.
OUTCOME_VARIANTS: dict[str, tuple[tuple[str, str], ...]] = {
    "delivered": (("DELIVERED_TO_HANDSET", "NO_ERROR"),),
    "undeliverable": (
        ("UNDELIVERABLE_NOT_DELIVERED", "EC_UNKNOWN_SUBSCRIBER"),
        ("UNDELIVERABLE_REJECTED_OPERATOR", "EC_ILLEGAL_SUBSCRIBER"),
    ),
    "expired": (("EXPIRED_EXPIRED", "EC_ABSENT_SUBSCRIBER"),),
    "rejected": (("REJECTED_DESTINATION", "EC_INVALID_DESTINATION_ADDRESS"),),
}

# The status object of each name, built once: responses share these dicts (never mutated).
STATUS_OBJECTS = {
    name: {"groupId": g, "groupName": gn, "id": i, "name": n, "description": d}
    for name, (g, gn, i, n, d) in STATUSES.items()
}
ERROR_OBJECTS = {
    name: {"groupId": g, "groupName": gn, "id": i, "name": n, "description": d, "permanent": p}
    for name, (g, gn, i, n, d, p) in ERRORS.items()
}


# GSM 03.38 basic set and the extension characters that take two septets.
_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = "^{}\\[~]|€\f"
_GSM_RE = re.compile("[" + re.escape(_GSM_BASIC + _GSM_EXT) + "]*")
_EXT_RE = re.compile("[" + re.escape(_GSM_EXT) + "]")


def sms_parts(text: str) -> tuple[int, str, int]:
    """(parts, encoding, characters remaining in the last part): GSM-7 160/153, UCS-2 70/67."""
    if _GSM_RE.fullmatch(text):
        length = len(text) + len(_EXT_RE.findall(text))
        single, multi, encoding = 160, 153, "GSM7"
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS2"
    if length <= single:
        return 1, encoding, single - length
    parts = math.ceil(length / multi)
    return parts, encoding, parts * multi - length


def timestamp(epoch: float | None = None) -> str:
    """Infobip's `yyyy-MM-dd'T'HH:mm:ss.SSS+0000` for `epoch` (now by default)."""
    return _timestamp_ms(int((time.time() if epoch is None else epoch) * 1000))


@lru_cache(maxsize=4096)
def _timestamp_ms(ms: int) -> str:
    # Cached: a request's messages share their sentAt, a push batch its doneAt.
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}+0000"


def price(amount: float, currency: str) -> dict[str, Any]:
    """Infobip's price object."""
    return {"pricePerMessage": amount, "currency": currency}
