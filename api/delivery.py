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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from api.emit import final_events_data
from api.models import DeliveryAttempt, EventDelivery, EventSubscription, EventType
from core.queueing import enqueue_on_commit

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


def delivery_webhook_id(delivery: EventDelivery) -> str:
    """The `webhook-id`: stored, or for a message.final row made from the message it is about."""
    if delivery.webhook_id:
        return delivery.webhook_id
    # The same event always gets the same id (the message and the subscription), so a receiver
    # dedupes retries and replays; unique across databases, unlike the row's primary key.
    message = str((delivery.payload or {}).get("messageId") or delivery.message).replace("-", "")
    return f"msg_{message}_{delivery.subscription_id}"[:64]


def deliveries_fill(deliveries: list[EventDelivery]) -> None:
    """Fill in (in memory) the body and webhook-id of message.final rows from the ledger."""
    wanted = [d.message for d in deliveries if d.payload is None and d.message is not None]
    data = final_events_data(wanted) if wanted else {}
    for delivery in deliveries:
        if delivery.payload is None and delivery.message is not None:
            delivery.payload = data.get(delivery.message)
            if delivery.payload is not None:
                delivery.webhook_id = delivery_webhook_id(delivery)


def deliveries_prepare(deliveries: list[EventDelivery]) -> list[EventDelivery]:
    """The deliveries that can be sent, bodies filled in; those whose ledger row is gone give up."""
    deliveries_fill(deliveries)
    gone = [d for d in deliveries if d.payload is None and d.message is not None]
    if not gone:
        return deliveries
    # The ledger row was deleted (its campaign with it): there is nothing left to say.
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(delivery=d, error="the message is no longer in the ledger")
            for d in gone
        )
        EventDelivery.objects.filter(id__in=[d.pk for d in gone]).update(
            state=EventDelivery.State.GAVE_UP, next_attempt_at=None
        )
    gone_ids = {d.pk for d in gone}
    return [d for d in deliveries if d.pk not in gone_ids]


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


# Event types with one event per cause and no order among causes (one final outcome per
# message): a run of them is sent concurrently. Every other type goes out one at a time, in order.
CONCURRENT_TYPES = frozenset({EventType.MESSAGE_FINAL})
CONCURRENCY = 16  # parallel POSTs to one receiver
WAVE = 4 * CONCURRENCY  # POSTs recorded together; a failure in one stops the run after it
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    # Made on first use in each worker process (never before a fork) and kept: its threads keep
    # their receiver connections alive from one wave to the next.
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="events")
    return _pool


def subscription_deliver(
    *,
    subscription_id: int,
    now: dt.datetime | None = None,
    limit: int = 1000,
    yield_to: Callable[[], bool] | None = None,
) -> DeliverResult:
    """Deliver a subscription's due events in order; stop at the first failure (retry later).

    `yield_to`, asked after each wave, stops the run early (`more` set) when it says so.
    """
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
        fetched, last = len(pending), (pending[-1].pk if pending else 0)
        pending = deliveries_prepare(pending)
        i = 0
        while i < len(pending):
            delivery = pending[i]
            if delivery.next_attempt_at and delivery.next_attempt_at > now:
                result.retry_at = delivery.next_attempt_at
                return result
            if delivery.event_type in CONCURRENT_TYPES:
                j = i
                while j < len(pending) and j - i < WAVE and _concurrent_due(pending[j], now):
                    j += 1
                ok, failed = _attempt_wave(subscription, pending[i:j], now)
                result.delivered += ok
                if failed:
                    result.failed += len(failed)
                    result.retry_at = min(d.next_attempt_at for d in failed if d.next_attempt_at)
                    return result
                i = j
                if yield_to is not None and i < len(pending) and yield_to():
                    result.more = True
                    return result
                continue
            if not _attempt(subscription, delivery, now):
                result.failed += 1
                result.retry_at = delivery.next_attempt_at
                return result
            result.delivered += 1
            i += 1
        result.more = fetched == limit
        if result.delivered and subscription.failing_since:
            EventSubscription.objects.filter(pk=subscription.pk).update(failing_since=None)
    finally:
        EventSubscription.objects.filter(pk=subscription_id).update(lease_until=None)
    if not result.more:
        # Events stored while this run held the lease found it busy and did not start one of
        # their own: after the release, anything still waiting is this run's to hand over.
        result.more = EventDelivery.objects.filter(
            subscription_id=subscription_id, state=EventDelivery.State.PENDING, id__gt=last
        ).exists()
    return result


def _concurrent_due(delivery: EventDelivery, now: dt.datetime) -> bool:
    due = not delivery.next_attempt_at or delivery.next_attempt_at <= now
    return due and delivery.event_type in CONCURRENT_TYPES


def _http() -> urllib3.PoolManager:
    # One keep-alive pool per worker process, shared by the sending threads (thread-safe).
    # urllib3 itself rather than requests: requests' per-call work (environment proxies,
    # netrc, hooks) cost more CPU than the POST, and a storm sends one POST per event.
    global _manager
    if _manager is None:
        _manager = urllib3.PoolManager(maxsize=CONCURRENCY, block=False, retries=False)
    return _manager


_manager: urllib3.PoolManager | None = None


def _post(subscription: EventSubscription, delivery: EventDelivery, checked: str) -> tuple:
    """One signed POST: (status code, excerpt, error, latency ms); never raises."""
    body = event_body(delivery)
    status_code, excerpt, error = None, "", checked
    started = time.monotonic()
    if not error:
        try:
            response = _http().request(
                "POST",
                subscription.url,
                body=body.encode(),
                headers=sign_headers(
                    subscription.secret, delivery_webhook_id(delivery), body, timezone.now()
                ),
                timeout=settings.HERALD_EVENTS_TIMEOUT,
                redirect=False,  # a redirect could point anywhere (SSRF)
            )
            status_code = response.status
            excerpt = response.data[: EXCERPT * 4].decode("utf-8", "replace")[:EXCERPT]
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:EXCERPT]
    return status_code, excerpt, error, int((time.monotonic() - started) * 1000)


def _attempt_wave(
    subscription: EventSubscription, wave: list[EventDelivery], now: dt.datetime
) -> tuple[int, list[EventDelivery]]:
    """POST a wave of deliveries concurrently and record them together; (ok, failed ones)."""
    try:
        receiver_url_check(subscription.url)
        checked = ""
    except UnsafeUrlError as exc:
        checked = str(exc)[:EXCERPT]
    answers = list(_executor().map(lambda d: _post(subscription, d, checked), wave))
    with transaction.atomic():  # one commit per wave, not one per statement
        return _record_wave(subscription, wave, answers, now)


def _record_wave(
    subscription: EventSubscription, wave: list[EventDelivery], answers: list, now: dt.datetime
) -> tuple[int, list[EventDelivery]]:
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery=d, status_code=code, latency_ms=latency, response_excerpt=excerpt, error=error
        )
        for d, (code, excerpt, error, latency) in zip(wave, answers, strict=True)
    )
    ok = [d.pk for d, a in zip(wave, answers, strict=True) if a[0] and 200 <= a[0] < 300]
    EventDelivery.objects.filter(id__in=ok).update(
        state=EventDelivery.State.DELIVERED,
        delivered_at=now,
        next_attempt_at=None,
        attempts=F("attempts") + 1,
    )
    failed, reason = [], ""
    for d, (code, _excerpt, error, _latency) in zip(wave, answers, strict=True):
        if d.pk in ok:
            continue
        d.attempts += 1
        d.next_attempt_at = now + dt.timedelta(seconds=backoff(d.attempts))
        d.save(update_fields=["next_attempt_at", "attempts"])
        failed.append(d)
        reason = error or f"HTTP {code}"
    if failed:
        _note_failure(subscription, now, reason)
    return len(ok), failed


def _attempt(subscription: EventSubscription, delivery: EventDelivery, now: dt.datetime) -> bool:
    try:
        receiver_url_check(subscription.url)
        checked = ""
    except UnsafeUrlError as exc:
        checked = str(exc)[:EXCERPT]
    status_code, excerpt, error, latency = _post(subscription, delivery, checked)
    DeliveryAttempt.objects.create(
        delivery=delivery,
        status_code=status_code,
        latency_ms=latency,
        response_excerpt=excerpt,
        error=error,
    )
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
    from api.tasks import subscription_deliver as deliver_task

    with transaction.atomic():
        rows = EventDelivery.objects.filter(id__in=delivery_ids)
        subscriptions = set(rows.values_list("subscription_id", flat=True))
        count = rows.update(state=EventDelivery.State.PENDING, next_attempt_at=None)
        for pk in subscriptions:
            enqueue_on_commit(partial(deliver_task.delay, pk), what=f"replay of {pk}")
    return count


def ingestion_busy() -> bool:
    """Whether stored Infobip pushes are waiting to be processed (a report storm is on)."""
    from infobip.models import EventStatus, WebhookEvent

    return WebhookEvent.objects.filter(status=EventStatus.RECEIVED).exists()


def delivery_defer(*, subscription_id: int, seconds: float, now: dt.datetime | None = None) -> bool:
    """Hold a subscription's delivery for `seconds` (a short lease); False if already held."""
    now = now or timezone.now()
    return bool(
        EventSubscription.objects.filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now), pk=subscription_id, enabled=True
        ).update(lease_until=now + dt.timedelta(seconds=seconds))
    )


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
