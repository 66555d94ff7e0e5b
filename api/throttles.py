"""Rate limiting per token (per user for the browsable API): 429 with Retry-After.

On the shared cache (core/throttle.py), so HERALD_API_RATE holds for the whole deployment, not
per gunicorn process or thread: DRF's own throttle keeps a list of call times per client and
writes it back after reading it, so concurrent calls overwrite each other's entries.
"""

import re
from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.throttle import rate_take

if TYPE_CHECKING:  # DRF imports the permission and throttle classes while it loads views
    from rest_framework.views import APIView

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """(calls, seconds) of DRF's rate syntax `N/period` (`600/min`, also `100/10s`)."""
    match = _RATE.match(rate or "")
    if match is None:
        raise ValueError(f"HERALD_API_RATE {rate!r}: use N/second|minute|hour|day")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * _PERIODS[unit[0]]


class TokenRateThrottle(BaseThrottle):
    """HERALD_API_RATE requests per token, counted across every process."""

    def __init__(self) -> None:
        self.retry_after = 0

    def allow_request(self, request: Request, view: "APIView") -> bool:
        token = getattr(request, "auth", None)
        if token is not None and hasattr(token, "pk"):
            ident = f"t{token.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            ident = f"a{self.get_ident(request)}"
        limit, period = parse_rate(settings.HERALD_API_RATE)
        decision = rate_take(key=f"api:{ident}", limit=limit, period=period)
        self.retry_after = decision.retry_after
        return decision.allowed

    def wait(self) -> float | None:
        return self.retry_after or None
