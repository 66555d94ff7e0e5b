"""Processing stored Infobip events: reports into the ledger, inbound messages, clicks.

Idempotent by construction, so a duplicated push, a redelivered task or an admin replay
changes nothing the second time:
- an event whose exact body (sha256) was already processed for the same kind is marked
  `duplicate` and skipped;
- reports go through campaigns.ledger (forward-only: a final state never moves back, a late
  intermediate report is recorded as an event only), one `messages_apply_outcomes` per batch;
- inbound messages are unique by Infobip's messageId, keyword rules run once per message
  (`handled_at`), clicks and unknown reports are unique per (event, position).

Events are processed together in one transaction; when a batch fails it is retried one event
at a time, so only the bad event is marked `failed` (replayable from the admin). Database
outages are not failures: the task retries and the backlog beat picks the events up again.
Reports for messageIds the ledger does not know become `PendingReport`s, retried with backoff
for HERALD_UNKNOWN_REPORT_RETRY_FOR seconds, then flagged (ids that are not Herald's UUIDs are
flagged at once: they can never match).
"""

import json
import logging
import traceback
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.failover import failover_after_reports
from campaigns.ledger import ApplyResult, Outcome, messages_apply_outcomes
from campaigns.models import Message, MessageEvent
from campaigns.status_map import message_price, state_for_status
from contacts.models import ConsentSource
from infobip.models import (
    INBOUND_KINDS,
    REPORT_KINDS,
    EventKind,
    EventStatus,
    PendingReport,
    WebhookEvent,
)
from infobip.suppression import contacts_suppress
from infobip.types import DeliveryReport
from infobip.webhooks import (
    ClickNotification,
    Inbound,
    SeenReport,
    clean,
    click_items,
    is_seen_report,
    is_template_update,
    marketing_notification,
    results_of,
)

logger = logging.getLogger(__name__)
MIN_TIME = datetime(2000, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2200, 1, 1, tzinfo=UTC)
# What a malformed item can raise while being parsed (it is skipped, the event still counts).
PARSE_ERRORS = (ValueError, TypeError, OverflowError, OSError, ArithmeticError)
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
WHATSAPP_KINDS = frozenset({EventKind.WHATSAPP_REPORTS, EventKind.PULL_WHATSAPP})

Key = tuple[int, int]  # (event id, position in its results)


@dataclass
class ProcessResult:
    """What a processing run did."""

    events: int = 0
    duplicates: int = 0
    failed: int = 0
    reports: int = 0
    known: int = 0  # reports whose messageId is in the ledger
    unknown: int = 0
    seen: int = 0
    inbound: int = 0
    clicks: int = 0

    def add(self, other: "ProcessResult") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class _Batch:
    reports: list[tuple[Key, DeliveryReport]]
    seen: list[tuple[Key, SeenReport]]
    inbound: list[tuple[Key, Inbound]]
    clicks: list[tuple[Key, ClickNotification, datetime]]
    templates: list[dict]
    marketing: list[tuple[str, str, str]]


def canonical_message_id(value: str) -> str | None:
    """Our messageId in the ledger's form (lower-case UUID), or None when it is not a UUID."""
    try:
        return str(uuid.UUID(str(value).strip()))
    except (ValueError, AttributeError, TypeError):
        return None


def sane_time(value: datetime | None) -> datetime | None:
    """`value` when it is a plausible event time (the columns cannot hold any datetime)."""
    if value is None or not MIN_TIME <= value <= MAX_TIME:
        return None
    return value


def _int32(value: int | None, maximum: int = 2**31 - 1) -> int | None:
    return value if value is not None and -(2**31) <= value <= maximum else None


def _price(value: Decimal | None) -> Decimal | None:
    # Message.price is DECIMAL(14, 6): anything else is not a price Infobip sends.
    if value is None or not value.is_finite() or abs(value) >= 10**8:
        return None
    return value


def outcome_from_report(report: DeliveryReport, message_id: str) -> Outcome:
    """The ledger outcome a delivery report stands for (price, parts and error kept)."""
    status, error = report.status, report.error
    parts = _int32(report.message_count, maximum=32767)
    per_message = report.price.price_per_message if report.price else None
    # A legacy v2 report (smsCount, not messageCount) prices one part; v3 the whole message.
    legacy = report.channel.upper() == "SMS" and any(k.lower() == "smscount" for k in report.raw)
    price = _price(message_price(per_message, per_part=legacy, parts=parts))
    return Outcome(
        message_id,
        state_for_status(status),
        status_group=clean(status.group_name, 32),
        status_id=_int32(status.id),
        status_name=clean(status.name, 64),
        error_group=clean(error.group_name, 32) if error else "",
        error_id=_int32(error.id) if error else None,
        error_name=clean(error.name, 64) if error else "",
        error_permanent=error.permanent if error else None,
        price=price,
        currency=clean(report.price.currency, 3) if price is not None else "",
        parts=parts if parts and parts > 0 else None,
        bulk_id=clean(report.bulk_id or "", 100),
        at=sane_time(report.done_at) or sane_time(report.sent_at),
    )


def _channel_of(kind: str) -> str:
    return "WHATSAPP" if kind in WHATSAPP_KINDS else "SMS"


# --- Events -----------------------------------------------------------------------------------


def events_process(*, event_ids: Sequence[int], coalesce: int = 0) -> ProcessResult:
    """Process stored events in one batch (plus up to `coalesce` other waiting ones)."""
    ids = sorted(set(event_ids))
    if not ids and not coalesce:
        return ProcessResult()
    try:
        with transaction.atomic():
            return _process(ids, coalesce)
    except TRANSIENT_DB_ERRORS:
        raise
    except Exception as exc:
        if len(ids) == 1 and not coalesce:
            logger.exception("webhook event %s failed", ids[0])
            _mark_failed(ids[0], exc)
            return ProcessResult(failed=1)
        logger.warning("a batch of %d webhook events failed; retrying one by one", len(ids))
    total = ProcessResult()
    for event_id in ids:
        total.add(events_process(event_ids=[event_id]))
    return total


def events_reprocess(*, event_ids: Sequence[int]) -> ProcessResult:
    """Replay events (failed ones after a fix, or any): back to `received`, then processed."""
    ids = sorted(set(event_ids))
    WebhookEvent.objects.filter(id__in=ids).update(status=EventStatus.RECEIVED, error="")
    total = ProcessResult()
    size = max(1, settings.HERALD_WEBHOOK_BATCH_EVENTS)
    for start in range(0, len(ids), size):
        total.add(events_process(event_ids=ids[start : start + size]))
    return total


def events_backlog(*, older_than: float = 60.0, limit: int = 5000) -> ProcessResult:
    """Process events still `received` after `older_than` seconds (their task was lost)."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    ids = list(
        WebhookEvent.objects.filter(status=EventStatus.RECEIVED, received_at__lte=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    total = ProcessResult()
    size = max(1, settings.HERALD_WEBHOOK_BATCH_EVENTS)
    for start in range(0, len(ids), size):
        total.add(events_process(event_ids=ids[start : start + size]))
    return total


def _mark_failed(event_id: int, exc: BaseException) -> None:
    detail = "".join(traceback.format_exception(exc, limit=-5))
    WebhookEvent.objects.filter(pk=event_id).update(
        status=EventStatus.FAILED, attempts=F("attempts") + 1, error=detail[-4000:]
    )


def _process(ids: list[int], coalesce: int) -> ProcessResult:
    result = ProcessResult()
    waiting = WebhookEvent.objects.filter(status=EventStatus.RECEIVED)
    chosen = set(ids)
    if coalesce:
        # Push tasks pick up whatever else is waiting, so ledger writes grow with the load.
        extra = waiting.exclude(id__in=ids).order_by("id").values_list("id", flat=True)
        chosen.update(extra[:coalesce])
    events = list(
        waiting.filter(id__in=sorted(chosen)).select_for_update(skip_locked=True).order_by("id")
    )
    if not events:
        return result
    work, duplicates = _split_duplicates(events)
    batch = _parse(work)
    now = timezone.now()
    unknown = reports_apply(items=batch.reports)
    unknown_seen = seen_apply(items=batch.seen, now=now)
    pending_create(reports=unknown, seen=unknown_seen, now=now)
    if batch.inbound:
        from infobip.inbound import inbound_store

        result.inbound = inbound_store(items=batch.inbound)
    if batch.clicks:
        from infobip.inbound import clicks_store

        result.clicks = clicks_store(items=clicks_new(items=batch.clicks))
    _apply_notifications(batch)
    done = {"processed_at": now, "attempts": F("attempts") + 1, "error": ""}
    WebhookEvent.objects.filter(id__in=[e.pk for e in work]).update(
        status=EventStatus.PROCESSED, **done
    )
    WebhookEvent.objects.filter(id__in=[e.pk for e in duplicates]).update(
        status=EventStatus.DUPLICATE, **done
    )
    result.events, result.duplicates = len(work), len(duplicates)
    result.reports, result.seen = len(batch.reports), len(batch.seen)
    result.unknown = len(unknown) + len(unknown_seen)
    result.known = len(batch.reports) - len(unknown)
    return result


def _split_duplicates(events: list[WebhookEvent]) -> tuple[list, list]:
    """Events whose body was already processed (same kind and hash) are duplicates."""
    done = set(
        WebhookEvent.objects.filter(
            content_hash__in={e.content_hash for e in events}, status=EventStatus.PROCESSED
        )
        .exclude(id__in=[e.pk for e in events])
        .values_list("kind", "content_hash")
    )
    work, duplicates = [], []
    for event in events:
        key = (event.kind, event.content_hash)
        if key in done:
            duplicates.append(event)
        else:
            done.add(key)
            work.append(event)
    return work, duplicates


def _parse(events: list[WebhookEvent]) -> _Batch:
    batch = _Batch([], [], [], [], [], [])
    for event in events:
        data = orjson.loads(event.body)
        if event.kind == EventKind.CLICKS:
            items = click_items(data)
        elif (items := results_of(data)) is None:
            if is_template_update(data):
                batch.templates.append(clean(data))
            elif (notification := marketing_notification(data)) is not None:
                batch.marketing.append(notification)
            continue
        for i, item in enumerate(items):
            try:
                _parse_item(batch, event, (event.pk, i), item)
            except PARSE_ERRORS:
                # Kept in the stored body; the rest of the push is still applied.
                logger.warning("webhook event %s: item %d cannot be parsed", event.pk, i)
    return batch


def _parse_item(batch: _Batch, event: WebhookEvent, key: Key, item: object) -> None:
    kind = event.kind
    if kind == EventKind.CLICKS:
        batch.clicks.append((key, ClickNotification.from_dict(item), event.received_at))
    elif kind in REPORT_KINDS:
        if is_seen_report(item):
            batch.seen.append((key, SeenReport.from_dict(item)))
        else:
            batch.reports.append((key, DeliveryReport.from_dict(item, channel=_channel_of(kind))))
    elif kind == EventKind.SMS_INBOUND:
        batch.inbound.append((key, Inbound.from_sms(item)))
    elif kind in INBOUND_KINDS:
        batch.inbound.append((key, Inbound.from_whatsapp(item)))


def _apply_notifications(batch: _Batch) -> None:
    if batch.templates:
        from whatsapp.services import template_apply_update_event

        for data in batch.templates:
            template_apply_update_event(event=data)
    if batch.marketing:
        from infobip.inbound import marketing_preferences_apply

        marketing_preferences_apply(notifications=batch.marketing)


# --- Clicks -----------------------------------------------------------------------------------


def _click_key(click: ClickNotification) -> str:
    return json.dumps(clean(click.raw), sort_keys=True, separators=(",", ":"), default=str)


def clicks_new(
    *, items: Sequence[tuple[Key, ClickNotification, datetime]]
) -> list[tuple[Key, ClickNotification, datetime]]:
    """The clicks not already stored: a notification identical to one already received (the
    same push retried, or re-batched with others) counts once. Infobip's notification carries
    no click id or click time, so identical ones cannot be told apart anyway."""
    from infobip.models import Click

    message_ids = {clean(c.message_id, 200) for _, c, _ in items}
    seen = {
        json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
        for raw in Click.objects.filter(infobip_message_id__in=message_ids).values_list(
            "raw", flat=True
        )
    }
    fresh = []
    for item in items:
        key = _click_key(item[1])
        if key not in seen:
            seen.add(key)
            fresh.append(item)
    return fresh


# --- Reports ----------------------------------------------------------------------------------


def reports_apply(*, items: Sequence[tuple[Key, DeliveryReport]]) -> list[tuple[Key, str]]:
    """Apply delivery reports to the ledger in one write; returns the (key, messageId) unknown."""
    unknown: list[tuple[Key, str]] = []
    outcomes: list[Outcome] = []
    keys: dict[str, list[Key]] = defaultdict(list)
    for key, report in items:
        message_id = canonical_message_id(report.message_id)
        if message_id is None:
            unknown.append((key, report.message_id))
            continue
        outcomes.append(outcome_from_report(report, message_id))
        keys[message_id].append(key)
    result = outcomes_apply(outcomes=outcomes)
    for message_id in result.unknown:
        unknown += [(key, message_id) for key in keys[message_id]]
    return unknown


def outcomes_apply(*, outcomes: Sequence[Outcome]) -> ApplyResult:
    """Apply outcomes (reports, logs, give-ups); then failover and provider-error opt-outs."""
    if not outcomes:
        return ApplyResult()
    result = messages_apply_outcomes(outcomes=outcomes)
    if not result.applied:
        return result
    # The ledger says which messages moved, with their channel and contact: no re-reading.
    changed = result.changed
    failover_after_reports(message_ids=[row[0] for row in changed.values() if row[2] == "whatsapp"])
    _provider_opt_outs(outcomes, changed)
    return result


def _provider_opt_outs(outcomes: Sequence[Outcome], changed: dict[str, tuple]) -> None:
    """Reports whose status or error means "blocked / opted out" opt the contact out."""
    blocking = {name.upper() for name in settings.HERALD_OPT_OUT_PROVIDER_ERRORS}
    if not blocking:
        return
    by_channel: dict[tuple[str, str], set[int]] = defaultdict(set)
    for o in outcomes:
        if o.message_id not in changed:
            continue
        name = next((n for n in (o.status_name, o.error_name) if n.upper() in blocking), None)
        contact_id = changed[o.message_id][3]
        if name and contact_id:
            by_channel[(changed[o.message_id][2], name)].add(contact_id)
    for (channel, name), contact_ids in by_channel.items():
        contacts_suppress(
            contact_ids=contact_ids,
            source=ConsentSource.PROVIDER_ERROR,
            channel=channel if channel in ("sms", "whatsapp") else "all",
            note=f"Infobip reported {name}",
        )


def seen_apply(*, items: Sequence[tuple[Key, SeenReport]], now: datetime) -> list[tuple[Key, str]]:
    """Record seen receipts (first one wins) with one update; returns the unknown ones."""
    unknown: list[tuple[Key, str]] = []
    wanted: dict[str, list[tuple[Key, SeenReport]]] = defaultdict(list)
    for key, seen in items:
        message_id = canonical_message_id(seen.message_id)
        if message_id is None:
            unknown.append((key, seen.message_id))
        else:
            wanted[message_id].append((key, seen))
    if not wanted:
        return unknown
    rows = {
        str(mid): (pk, seen_at)
        for pk, mid, seen_at in Message.objects.filter(
            message_id__in=[uuid.UUID(m) for m in wanted]
        ).values_list("id", "message_id", "seen_at")
    }
    updates, events = [], []
    for message_id, entries in wanted.items():
        if message_id not in rows:
            unknown += [(key, message_id) for key, _ in entries]
            continue
        pk, seen_at = rows[message_id]
        if seen_at is not None:
            continue
        first = min(sane_time(s.seen_at) or now for _, s in entries)
        updates.append(Message(id=pk, seen_at=first))
        events.append(
            MessageEvent(message_id=pk, kind=MessageEvent.Kind.SEEN, detail=first.isoformat())
        )
    Message.objects.bulk_update(updates, ["seen_at"], batch_size=1000)
    MessageEvent.objects.bulk_create(events, batch_size=1000)
    return unknown


# --- Unknown messageIds -----------------------------------------------------------------------


def pending_create(
    *, reports: list[tuple[Key, str]], seen: list[tuple[Key, str]], now: datetime
) -> int:
    """Keep reports for unknown messageIds for a retry (non-UUID ids are flagged at once)."""
    rows = []
    for kind, entries in ((PendingReport.Kind.REPORT, reports), (PendingReport.Kind.SEEN, seen)):
        for (event_id, index), message_id in entries:
            hopeless = canonical_message_id(message_id) is None
            rows.append(
                PendingReport(
                    event_id=event_id,
                    index=index,
                    kind=kind,
                    message_id=str(message_id).replace("\x00", "")[:200],
                    first_seen_at=now,
                    next_attempt_at=now + timedelta(seconds=30),
                    flagged=hopeless,
                    flagged_at=now if hopeless else None,
                )
            )
    PendingReport.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)


def pending_retry(*, now: datetime | None = None, limit: int = 5000) -> tuple[int, int]:
    """Retry due unknown reports; returns (resolved, flagged). Old ones are flagged."""
    now = now or timezone.now()
    due = list(
        PendingReport.objects.filter(flagged=False, next_attempt_at__lte=now).order_by(
            "next_attempt_at"
        )[:limit]
    )
    if not due:
        return 0, 0
    events = {
        e.pk: e
        for e in WebhookEvent.objects.filter(id__in={p.event_id for p in due}).only("kind", "body")
    }
    batch = _Batch([], [], [], [], [], [])
    for event_id, event in events.items():
        items = results_of(json.loads(event.body)) or []
        for p in (p for p in due if p.event_id == event_id and p.index < len(items)):
            try:
                _parse_item(batch, event, (p.event_id, p.index), items[p.index])
            except PARSE_ERRORS:
                continue
    reports, seen = batch.reports, batch.seen
    with transaction.atomic():
        still = {key for key, _ in reports_apply(items=reports)}
        still |= {key for key, _ in seen_apply(items=seen, now=now)}
        resolved = [p.pk for p in due if (p.event_id, p.index) not in still]
        PendingReport.objects.filter(id__in=resolved).delete()
        waiting = [p for p in due if (p.event_id, p.index) in still]
        give_up = now - timedelta(seconds=settings.HERALD_UNKNOWN_REPORT_RETRY_FOR)
        flagged = {p.pk for p in waiting if p.first_seen_at <= give_up}
        PendingReport.objects.filter(id__in=flagged).update(
            flagged=True, flagged_at=now, attempts=F("attempts") + 1
        )
        by_attempts: dict[int, list[int]] = defaultdict(list)
        for p in waiting:
            if p.pk not in flagged:
                by_attempts[p.attempts].append(p.pk)
        for attempts, ids in by_attempts.items():
            delay = min(30 * 2 ** (attempts + 1), 900)
            PendingReport.objects.filter(id__in=ids).update(
                attempts=attempts + 1, next_attempt_at=now + timedelta(seconds=delay)
            )
    if flagged:
        logger.warning("%d reports for unknown messageIds flagged after retries", len(flagged))
    return len(resolved), len(flagged)
