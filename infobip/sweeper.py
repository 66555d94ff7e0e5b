"""The provider half of the report sweeper (campaigns.reports runs the whole sweep).

Infobip returns each pulled report only once, so every page is stored as a WebhookEvent
(`pull_sms` / `pull_whatsapp`) and committed before it is processed like a push. The figures
about pushes (when they last came, the backlog, unknown reports) and the pruning of old raw
events are here too: they are about Infobip's side of the flow, not the ledger.
"""

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings

from infobip.client import PAGE_MAX, get_client
from infobip.errors import InfobipError
from infobip.models import (
    INBOUND_KINDS,
    PUSHED_REPORT_KINDS,
    EventKind,
    EventStatus,
    PendingReport,
    ReportHealth,
    WebhookEvent,
)
from infobip.processing import events_process
from infobip.types import DeliveryReport

logger = logging.getLogger(__name__)
MAX_PAGES = 200  # per endpoint and run: 200,000 reports
ROW_LIMIT = 5000  # events deleted per round


# The stored kind of a pulled page: Messages API channels other than WhatsApp share one.
PULL_KINDS = {"SMS": EventKind.PULL_SMS, "WHATSAPP": EventKind.PULL_WHATSAPP}


def reports_pull(
    *, errors: list[str], messages_api: Sequence[str] = ("WHATSAPP",)
) -> dict[str, Any]:
    """Pull SMS reports, then each Messages API channel's, until empty; → {channel: pulled}.

    `messages_api` are Infobip's channel names (`WHATSAPP`, `VIBER_BM`, `RCS`): the caller
    knows which channels Herald sends on. What Infobip could not answer is appended to
    `errors` (the sweep goes on without it).
    """
    client = get_client()
    pulled = {"SMS": _pull(EventKind.PULL_SMS, client.get_sms_reports, errors)}
    for channel in messages_api:
        kind = PULL_KINDS.get(channel, EventKind.PULL_MESSAGES)
        pulled[channel] = _pull(
            kind, partial(client.get_messages_api_reports, channel=channel), errors
        )
    return pulled


def _pull(kind: str, fetch: Callable[[], list[DeliveryReport]], errors: list[str]) -> int:
    """Pull pages until empty; each page is stored (committed) before it is applied."""
    total = 0
    for _page in range(MAX_PAGES):
        try:
            reports = fetch()
        except InfobipError as exc:
            errors.append(f"{kind}: {exc}")
            logger.warning("pulling %s failed: %s", kind, exc)
            break
        if not reports:
            break
        body = json.dumps(
            {"results": [r.raw for r in reports]}, ensure_ascii=False, separators=(",", ":")
        )
        event = WebhookEvent.objects.create(
            kind=kind,
            body=body,
            content_hash=hashlib.sha256(body.encode()).hexdigest(),
            items=len(reports),
        )
        events_process(event_ids=[event.pk])
        total += len(reports)
        if len(reports) < PAGE_MAX:
            break
    return total


def push_health() -> dict[str, Any]:
    """Infobip's side of the report flow: last pushes, backlog, failed events, unknown reports."""
    return {
        "last_report_push_at": last_push(*PUSHED_REPORT_KINDS),
        "last_inbound_push_at": last_push(*INBOUND_KINDS),
        "backlog": WebhookEvent.objects.filter(status=EventStatus.RECEIVED).count(),
        "failed_events": WebhookEvent.objects.filter(status=EventStatus.FAILED).count(),
        "pending_unknown": PendingReport.objects.filter(flagged=False).count(),
        "flagged_unknown": PendingReport.objects.filter(flagged=True).count(),
    }


def last_push(*kinds: str) -> datetime | None:
    """When the latest push of one of these kinds arrived."""
    times = [
        WebhookEvent.objects.filter(kind=kind)
        .order_by("-received_at")
        .values_list("received_at", flat=True)
        .first()
        for kind in kinds
    ]
    return max((t for t in times if t), default=None)


def events_prune(*, now: datetime) -> int:
    """Delete processed events past the retention, and old health records (bounded per run)."""
    ReportHealth.objects.filter(measured_at__lt=now - timedelta(days=7)).delete()
    days = settings.HERALD_WEBHOOK_RETENTION_DAYS
    if days <= 0:
        return 0
    old = WebhookEvent.objects.filter(
        status__in=[EventStatus.PROCESSED, EventStatus.DUPLICATE],
        received_at__lt=now - timedelta(days=days),
    )
    deleted = 0
    for _round in range(10):
        ids = list(old.order_by("id").values_list("id", flat=True)[:ROW_LIMIT])
        if not ids:
            break
        deleted += WebhookEvent.objects.filter(id__in=ids).delete()[0]
    return deleted
