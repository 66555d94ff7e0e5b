"""Delivering outbound events: signed POSTs, one attempt row each, retried with backoff.

One deliverer per subscription at a time (a lease), oldest pending delivery first; a failure
stops the subscription's queue until its retry is due, so receivers see events in order. A
subscription failing for HERALD_EVENTS_DISABLE_AFTER is disabled with the reason as its notice.
"""

import datetime as dt
import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from api.models import DeliveryAttempt, EventDelivery, EventSubscription

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=120)
BACKOFF_FIRST = 5.0  # seconds before the first retry; doubled after each failure
EXCERPT = 500


class UnsafeUrlError(ValueError):
    """A receiver URL Herald refuses to call (not http(s), or a private/loopback address)."""


def receiver_url_check(url: str) -> None:
    """Refuse non-http(s) URLs and hosts resolving to non-public addresses (SSRF) unless allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrlError("the receiver URL must be http:// or https:// with a host")
    if settings.HERALD_EVENTS_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrlError(f"the receiver host {parts.hostname!r} does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise UnsafeUrlError(
                f"the receiver {parts.hostname!r} resolves to a non-public address ({address}); "
                "set HERALD_EVENTS_ALLOW_PRIVATE to allow it"
            )


def backoff(attempts: int) -> float:
    """Seconds before retry number `attempts` (5, 10, 20 … up to HERALD_EVENTS_BACKOFF_MAX)."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), settings.HERALD_EVENTS_BACKOFF_MAX)


def event_body(delivery: EventDelivery) -> str:
    """The JSON document POSTed: `{"type", "timestamp", "data"}` (the same on every attempt)."""
    return json.dumps(
        {
            "type": delivery.event_type,
            "timestamp": delivery.created_at.isoformat(),
            "data": delivery.payload,
        },
        separators=(",", ":"),
    )


def sign_headers(secret: str, webhook_id: str, body: str, at: dt.datetime) -> dict[str, str]:
    """Standard Webhooks headers for `body` (library-made signature)."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
        "Content-Type": "application/json",
        "User-Agent": "Herald-Events/1",
    }


@dataclass
class DeliverResult:
    """What one run over a subscription's queue did."""

    delivered: int = 0
    failed: int = 0
    busy: bool = False
    more: bool = False
    retry_at: dt.datetime | None = None


def subscription_deliver(
    *, subscription_id: int, now: dt.datetime | None = None, limit: int = 200
) -> DeliverResult:
    """Deliver a subscription's due events in order; stop at the first failure (retry later)."""
    result = DeliverResult()
    now = now or timezone.now()
    leased = EventSubscription.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now), pk=subscription_id, enabled=True
    ).update(lease_until=now + LEASE)
    if not leased:
        result.busy = True
        return result
    try:
        subscription = EventSubscription.objects.get(pk=subscription_id)
        pending = list(
            EventDelivery.objects.filter(
                subscription=subscription, state=EventDelivery.State.PENDING
            ).order_by("id")[:limit]
        )
        for delivery in pending:
            if delivery.next_attempt_at and delivery.next_attempt_at > now:
                result.retry_at = delivery.next_attempt_at
                return result
            if not _attempt(subscription, delivery, now):
                result.failed += 1
                result.retry_at = delivery.next_attempt_at
                return result
            result.delivered += 1
        result.more = len(pending) == limit
        if result.delivered and subscription.failing_since:
            EventSubscription.objects.filter(pk=subscription.pk).update(failing_since=None)
        return result
    finally:
        EventSubscription.objects.filter(pk=subscription_id).update(lease_until=None)


def _attempt(subscription: EventSubscription, delivery: EventDelivery, now: dt.datetime) -> bool:
    body = event_body(delivery)
    status_code, excerpt, error = None, "", ""
    started = time.monotonic()
    try:
        receiver_url_check(subscription.url)
        response = requests.post(
            subscription.url,
            data=body.encode(),
            headers=sign_headers(subscription.secret, delivery.webhook_id, body, timezone.now()),
            timeout=settings.HERALD_EVENTS_TIMEOUT,
            allow_redirects=False,  # a redirect could point anywhere (SSRF)
        )
        status_code, excerpt = response.status_code, response.text[:EXCERPT]
    except UnsafeUrlError as exc:
        error = str(exc)[:EXCERPT]
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:EXCERPT]
    latency = int((time.monotonic() - started) * 1000)
    DeliveryAttempt.objects.create(
        delivery=delivery, status_code=status_code, latency_ms=latency,
        response_excerpt=excerpt, error=error,
    )  # fmt: skip
    delivery.attempts += 1
    ok = status_code is not None and 200 <= status_code < 300
    if ok:
        delivery.state, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        delivery.save(update_fields=["state", "delivered_at", "next_attempt_at", "attempts"])
        return True
    delivery.next_attempt_at = now + dt.timedelta(seconds=backoff(delivery.attempts))
    delivery.save(update_fields=["next_attempt_at", "attempts"])
    reason = error or f"HTTP {status_code}"
    _note_failure(subscription, now, reason)
    return False


def _note_failure(subscription: EventSubscription, now: dt.datetime, reason: str) -> None:
    since = subscription.failing_since
    if since is None:
        EventSubscription.objects.filter(pk=subscription.pk, failing_since__isnull=True).update(
            failing_since=now
        )
        return
    if (now - since).total_seconds() < settings.HERALD_EVENTS_DISABLE_AFTER:
        return
    notice = (
        f"disabled {now:%Y-%m-%d %H:%M} UTC: deliveries failing since "
        f"{since:%Y-%m-%d %H:%M} UTC (last: {reason})"
    )[:500]
    EventSubscription.objects.filter(pk=subscription.pk).update(
        enabled=False, disabled_reason=notice
    )
    logger.warning("event subscription %s %s", subscription.pk, notice)


def deliveries_replay(*, delivery_ids: list[int]) -> int:
    """Send these deliveries again (admin replay): pending now, in order with the rest."""
    from django.db import transaction

    from api.tasks import subscription_deliver as deliver_task

    with transaction.atomic():
        rows = EventDelivery.objects.filter(id__in=delivery_ids)
        subscriptions = set(rows.values_list("subscription_id", flat=True))
        count = rows.update(state=EventDelivery.State.PENDING, next_attempt_at=None)
        for pk in subscriptions:
            transaction.on_commit(partial(deliver_task.delay, pk))
    return count


def subscriptions_due(*, now: dt.datetime | None = None) -> list[int]:
    """Enabled subscriptions with a pending delivery due now (the beat's safety net)."""
    now = now or timezone.now()
    return list(
        EventDelivery.objects.filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
            state=EventDelivery.State.PENDING,
            subscription__enabled=True,
        )
        .values_list("subscription_id", flat=True)
        .distinct()
    )
