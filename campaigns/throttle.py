"""A per-sender token bucket in the database, shared by every campaign and worker.

`HERALD_SENDER_RATES` (messages per second per sender, `"*"` for any) caps what one sender
sends across campaigns. A batch reserves its slot by pushing the sender's `available_at`
forward; when the slot starts later than now, the caller re-schedules the batch for then
instead of sleeping in the worker. A 429 from Infobip pushes the sender's slot forward too, so
every campaign on that sender slows down, and no retry budget is spent on it.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from campaigns.models import SenderThrottle


def sender_rate(sender: str) -> float | None:
    """Messages per second allowed for `sender`, or None for no limit."""
    rates = getattr(settings, "HERALD_SENDER_RATES", {}) or {}
    rate = rates.get(sender, rates.get("*"))
    return float(rate) if rate else None


def throttle_reserve(*, sender: str, count: int) -> float:
    """Reserve `count` messages on `sender`; returns seconds to wait before sending (0 = now)."""
    rate = sender_rate(sender)
    if not rate or count <= 0:
        return _penalty_wait(sender)
    now = timezone.now()
    with transaction.atomic():
        row, _ = SenderThrottle.objects.select_for_update().get_or_create(
            sender=sender, defaults={"available_at": now}
        )
        start = max(row.available_at, now)
        row.available_at = start + dt.timedelta(seconds=count / rate)
        row.save(update_fields=["available_at"])
    return max(0.0, (start - now).total_seconds())


def throttle_penalize(*, sender: str, seconds: float) -> None:
    """Hold every batch of `sender` for `seconds` (Infobip answered 429)."""
    until = timezone.now() + dt.timedelta(seconds=seconds)
    with transaction.atomic():
        row, created = SenderThrottle.objects.select_for_update().get_or_create(
            sender=sender, defaults={"available_at": until}
        )
        if not created and row.available_at < until:
            row.available_at = until
            row.save(update_fields=["available_at"])


def _penalty_wait(sender: str) -> float:
    # Without a configured rate the bucket only holds penalties from 429s.
    available = (
        SenderThrottle.objects.filter(sender=sender).values_list("available_at", flat=True).first()
    )
    if available is None:
        return 0.0
    return max(0.0, (available - timezone.now()).total_seconds())
