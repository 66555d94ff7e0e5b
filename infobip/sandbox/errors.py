"""Infobip's two error envelopes (docs/INFOBIP.md §2), with the texts of Infobip's own examples.

`v3` (`errorCode`/`violations`) answers for /sms/3/* and the Messages API; `legacy`
(`requestError.serviceException`) for SMS v1, WhatsApp and resource management.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from infobip.openapi import Violation

V3, LEGACY = "v3", "legacy"


@dataclass
class Response:
    """What a route answers: a status, a JSON-able body (or None) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


_V3_TEXTS = {
    400: ("Request cannot be processed.", "Check the syntax, violations and adjust the request."),
    401: (
        "The request lacks valid authentication credentials for the requested resource.",
        "Check the resources and adjust authentication credentials.",
    ),
    404: ("Requested resource not found.", "Check the request path and adjust the request."),
    405: ("Request method not supported.", "Check the request method and adjust the request."),
    429: (
        "Too many requests sent.",
        "Check request rate limit specified in the API endpoint documentation resource.",
    ),
    500: ("Something went wrong.", "Contact the support."),
}
_V3_RESOURCES = {
    401: [
        {
            "name": "API Authentication",
            "url": "https://www.infobip.com/docs/essentials/api-authentication",
        }
    ],
    429: [
        {
            "name": "Throttling handling errors",
            "url": "https://www.infobip.com/docs/essentials/integration-best-practices#throttling-handling-errors",
        }
    ],
}
_LEGACY_TEXTS = {
    400: ("BAD_REQUEST", "Bad request"),
    401: ("UNAUTHORIZED", "Unauthorized"),
    404: ("NOT_FOUND", "Not found"),
    405: ("BAD_REQUEST", "Method not allowed"),
    429: ("TOO_MANY_REQUESTS", "Too many requests"),
    500: ("GENERAL_ERROR", "Something went wrong. Please contact support."),
}


def error(
    envelope: str, status: int, violations: Iterable[Violation] = (), **headers: str
) -> Response:
    """An error response in `envelope` for HTTP `status`, listing `violations`."""
    violations = list(violations)
    base = status if status in _LEGACY_TEXTS else 500
    if envelope == LEGACY:
        message_id, text = _LEGACY_TEXTS[base]
        exception: dict[str, Any] = {"messageId": message_id, "text": text}
        if violations:
            grouped: dict[str, list[str]] = {}
            for v in violations:
                grouped.setdefault(v.property, []).append(v.violation)
            exception["validationErrors"] = grouped
        body: dict[str, Any] = {"requestError": {"serviceException": exception}}
    else:
        description, action = _V3_TEXTS[base]
        body = {
            "errorCode": f"E{status}",
            "description": description,
            "action": action,
            "violations": [{"property": v.property, "violation": v.violation} for v in violations],
            "resources": _V3_RESOURCES.get(status, []),
        }
    return Response(status, body, {k.replace("_", "-"): v for k, v in headers.items()})
