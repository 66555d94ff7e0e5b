"""Processing stored Infobip events: the receiving path from a stored push to its receivers.

A stored event's body is parsed into typed items (delivery reports, seen reports, inbound
messages, clicks, WhatsApp template and marketing notifications); each kind of item is handed
to the receiver the owning app registered (infobip.receivers: reports → the ledger in
campaigns.outcomes, inbound → keywords and the inbox in inbox.services, clicks →
campaigns.clicks, templates → whatsapp.services). Nothing here knows their rules.

Idempotent by construction, so a duplicated push, a redelivered task or an admin replay
changes nothing the second time:
- an event whose exact body (sha256) was already processed for the same kind is marked
  `duplicate` and skipped;
- the ledger is forward-only (a final state never moves back, a late intermediate report is
  recorded as an event only), one ledger write per batch;
- inbound messages are unique by Infobip's messageId, keyword rules run once per message
  (`handled_at`), clicks and unknown reports are unique per (event, position).

One bad item never costs a good one. Events are processed together in one transaction; when a
batch fails it is retried one event at a time, and an event that fails alone is retried one
item at a time, each in its own savepoint: every item that can be applied is, and the event is
`processed` with the items that could not be parsed or applied listed, with the reason, in its
`error` (the admin shows it). Only an event whose body cannot be read at all is `failed`
(replayable from the admin); it never holds up the events behind it. Database outages are not
failures: the task retries and the backlog beat picks the events up again.
Reports for messageIds the ledger does not know become `PendingReport`s, retried with backoff
for HERALD_UNKNOWN_REPORT_RETRY_FOR seconds, then flagged (ids that are not Herald's UUIDs are
flagged at once: they can never match).
"""

import json
import logging
import traceback
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from infobip.models import (
    INBOUND_KINDS,
    REPORT_KINDS,
    EventKind,
    EventStatus,
    PendingReport,
    WebhookEvent,
)
from infobip.receivers import Key, receiver
from infobip.types import (
    DeliveryReport,
    MessageError,
    Price,
    Status,
    parse_timestamp,
    text_or_none,
)
from infobip.webhooks import (
    _REPORT_KEYS,
    ClickNotification,
    Inbound,
    SeenReport,
    canonical_message_id,
    clean,
    click_items,
    is_seen_report,
    is_template_update,
    marketing_notification,
    results_of,
)

logger = logging.getLogger(__name__)
# What a malformed item can raise while being parsed (it is skipped, the event still counts).
PARSE_ERRORS = (ValueError, TypeError, OverflowError, OSError, ArithmeticError, RecursionError)
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
# The channel a report is read as when its item does not say (Messages API items always do).
_REPORT_CHANNEL: dict[str, str] = {
    EventKind.WHATSAPP_REPORTS: "WHATSAPP",
    EventKind.PULL_WHATSAPP: "WHATSAPP",
    EventKind.MESSAGES_REPORTS: "",
    EventKind.PULL_MESSAGES: "",
}
NOTIFICATION = -1  # the "position" of a single-object notification (not in a `results` list)


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
    bad_items: int = 0  # items that could not be parsed or applied (listed in the event)

    def add(self, other: "ProcessResult") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class _Batch:
    reports: list[tuple[Key, DeliveryReport]] = field(default_factory=list)
    seen: list[tuple[Key, SeenReport]] = field(default_factory=list)
    inbound: list[tuple[Key, Inbound]] = field(default_factory=list)
    clicks: list[tuple[Key, ClickNotification, datetime]] = field(default_factory=list)
    templates: list[tuple[Key, dict[str, Any]]] = field(default_factory=list)
    marketing: list[tuple[Key, tuple[str, str, str]]] = field(default_factory=list)
    # Items that could not be parsed or applied: event id → "results[i]: reason".
    problems: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))

    def singles(self) -> list["_Batch"]:
        """This batch as one batch per item (for applying them one at a time)."""
        return [
            *(_Batch(reports=[x]) for x in self.reports),
            *(_Batch(seen=[x]) for x in self.seen),
            *(_Batch(inbound=[x]) for x in self.inbound),
            *(_Batch(clicks=[x]) for x in self.clicks),
            *(_Batch(templates=[x]) for x in self.templates),
            *(_Batch(marketing=[x]) for x in self.marketing),
        ]

    def item_keys(self) -> list[Key]:
        return [
            item[0]
            for items in (
                self.reports,
                self.seen,
                self.inbound,
                self.clicks,
                self.templates,
                self.marketing,
            )
            for item in items
        ]


def _channel_of(kind: str) -> str:
    return _REPORT_CHANNEL.get(kind, "SMS")


def _where(key: Key) -> str:
    return "body" if key[1] == NOTIFICATION else f"results[{key[1]}]"


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


# --- Events -----------------------------------------------------------------------------------


def events_process(*, event_ids: Sequence[int], coalesce: int = 0) -> ProcessResult:
    """Process stored events in one batch (plus up to `coalesce` other waiting ones).

    A batch that fails is split in halves, each processed again, down to the one event that
    fails alone (then applied item by item): an unprocessable push is isolated at its first
    failure in about 2·log2(batch) small transactions, while the good events around it still
    go in batches. The coalesced events are named first, so they are split with the others
    (before, only the task's own events were retried and the coalesced ones waited, failing
    again with the next batch, until the backlog beat found them a minute later).
    """
    ids = sorted(set(event_ids))
    if coalesce:
        waiting = WebhookEvent.objects.filter(status=EventStatus.RECEIVED).exclude(id__in=ids)
        ids = sorted({*ids, *waiting.order_by("id").values_list("id", flat=True)[:coalesce]})
    if not ids:
        return ProcessResult()
    return _process_or_split(ids)


def _process_or_split(ids: list[int]) -> ProcessResult:
    try:
        with transaction.atomic():
            return _process(ids, 0)
    except Exception as exc:
        if transient(exc):
            raise
        if len(ids) == 1:
            logger.warning("webhook event %s failed as a whole; applying it item by item", ids[0])
            return _process_isolated(ids[0])
        logger.warning("a batch of %d webhook events failed; splitting it", len(ids))
    middle = len(ids) // 2
    total = _process_or_split(ids[:middle])
    total.add(_process_or_split(ids[middle:]))
    return total


# SQLSTATE classes of a database that is away or busy (retry later), not of a statement that
# can never succeed: 08 connection, 40 serialization/deadlock, 53 resources, 57 shutdown.
_TRANSIENT_STATES = ("08", "40", "53", "57")


def transient(exc: BaseException) -> bool:
    """Whether `exc` is the database being away (retry the task) rather than bad data.

    Django calls both OperationalError: a lost connection, and PostgreSQL refusing what one
    push holds (54000 "index row size exceeds maximum"). Only the first is worth a retry; the
    second would fail every batch it is in, at every retry.
    """
    if not isinstance(exc, TRANSIENT_DB_ERRORS):
        return False
    state = getattr(exc.__cause__, "sqlstate", None)
    return state is None or str(state)[:2] in _TRANSIENT_STATES


def _process_isolated(event_id: int) -> ProcessResult:
    """One event, each item in its own savepoint; `failed` only if even that cannot run."""
    try:
        with transaction.atomic():
            return _process([event_id], 0, isolate=True)
    except Exception as exc:
        if transient(exc):
            raise
        logger.exception("webhook event %s failed", event_id)
        _mark_failed(event_id, exc)
        return ProcessResult(failed=1)


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


def _process(ids: list[int], coalesce: int, *, isolate: bool = False) -> ProcessResult:
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
    if isolate:
        for single in batch.singles():
            try:
                with transaction.atomic():  # a savepoint: a bad item rolls back alone
                    result.add(_dispatch(single, now))
            except Exception as exc:
                if transient(exc):
                    raise
                for key in single.item_keys():
                    batch.problems[key[0]].append(f"{_where(key)}: not applied: {_reason(exc)}")
    else:
        result.add(_dispatch(batch, now))
    done = {"processed_at": now, "attempts": F("attempts") + 1, "error": ""}
    clean_events = [e.pk for e in work if e.pk not in batch.problems]
    WebhookEvent.objects.filter(id__in=clean_events).update(status=EventStatus.PROCESSED, **done)
    for event_id, problems in batch.problems.items():
        logger.warning("webhook event %s: %d items skipped", event_id, len(problems))
        error = f"{len(problems)} items skipped (the others were applied):\n" + "\n".join(problems)
        WebhookEvent.objects.filter(id=event_id).update(
            status=EventStatus.PROCESSED, **{**done, "error": error[:4000]}
        )
    WebhookEvent.objects.filter(id__in=[e.pk for e in duplicates]).update(
        status=EventStatus.DUPLICATE, **done
    )
    result.events, result.duplicates = len(work), len(duplicates)
    result.bad_items = sum(len(p) for p in batch.problems.values())
    return result


def _dispatch(batch: _Batch, now: datetime) -> ProcessResult:
    """Hand each kind of item to its receiver; keep the unknown reports for a retry."""
    result = ProcessResult()
    unknown = receiver("reports")(items=batch.reports) if batch.reports else []
    unknown_seen = receiver("seen")(items=batch.seen, now=now) if batch.seen else []
    pending_create(reports=unknown, seen=unknown_seen, now=now)
    if batch.inbound:
        result.inbound = receiver("inbound")(items=batch.inbound)
    if batch.clicks:
        result.clicks = receiver("clicks")(items=clicks_new(items=batch.clicks))
    for _key, data in batch.templates:
        receiver("template_updates")(event=data)
    if batch.marketing:
        receiver("marketing")(notifications=[n for _, n in batch.marketing])
    result.reports, result.seen = len(batch.reports), len(batch.seen)
    result.unknown = len(unknown) + len(unknown_seen)
    result.known = len(batch.reports) - len(unknown)
    return result


def _split_duplicates(
    events: list[WebhookEvent],
) -> tuple[list[WebhookEvent], list[WebhookEvent]]:
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
    batch = _Batch()
    for event in events:
        data = orjson.loads(event.body)
        items = click_items(data) if event.kind == EventKind.CLICKS else results_of(data)
        if items is None:
            key = (event.pk, NOTIFICATION)
            if is_template_update(data):
                batch.templates.append((key, clean(data)))
            elif (notification := marketing_notification(data)) is not None:
                batch.marketing.append((key, notification))
            continue
        for i, item in enumerate(items):
            try:
                _parse_item(batch, event, (event.pk, i), item)
            except PARSE_ERRORS as exc:
                # Kept in the stored body; the rest of the push is still applied.
                batch.problems[event.pk].append(f"results[{i}]: cannot be parsed: {_reason(exc)}")
    return batch


def _parse_item(batch: _Batch, event: WebhookEvent, key: Key, item: object) -> None:
    kind = event.kind
    if kind == EventKind.CLICKS:
        batch.clicks.append((key, ClickNotification.from_dict(item), event.received_at))
    elif kind in REPORT_KINDS:
        # A report in documented casing has no `seenAt`: only other shapes need the check.
        documented = type(item) is dict and item.keys() <= _REPORT_KEYS
        if not documented and is_seen_report(item):
            batch.seen.append((key, SeenReport.from_dict(item)))
        else:
            batch.reports.append((key, delivery_report(item, _channel_of(kind))))
    elif kind == EventKind.SMS_INBOUND:
        batch.inbound.append((key, Inbound.from_sms(item)))
    elif kind == EventKind.MESSAGES_INBOUND:
        batch.inbound.append((key, Inbound.from_messages_api(item)))
    elif kind in INBOUND_KINDS:
        batch.inbound.append((key, Inbound.from_whatsapp(item)))


_PARTS: dict[
    tuple[object, ...], Any
] = {}  # (parser, the object's items) → the parsed, immutable object
_TIMES: dict[tuple[object, ...], datetime | None] = {}
_CACHE_SIZE = 4096


def _part(parser: Any, value: Any) -> Any:
    """`parser(value)` for a non-empty object, once per distinct object (reports repeat them)."""
    if not isinstance(value, Mapping) or not value:
        return None
    if type(value) is not dict:
        return parser(value)
    try:
        key = (parser, tuple(value.items()))
        return _PARTS[key]
    except TypeError:  # unhashable values (a nested object): parsed each time
        return parser(value)
    except KeyError:
        pass
    if len(_PARTS) >= _CACHE_SIZE:
        _PARTS.clear()
    parsed = _PARTS[key] = parser(value)
    return parsed


def _time(value: Any) -> datetime | None:
    key = (type(value), value)  # the type too: 1, 1.0 and True are equal keys, not equal times
    try:
        return _TIMES[key]
    except KeyError:
        pass
    except TypeError:
        return parse_timestamp(value)
    if len(_TIMES) >= _CACHE_SIZE:
        _TIMES.clear()
    parsed = _TIMES[key] = parse_timestamp(value)
    return parsed


def _present(item: dict[str, Any], first: str, second: str) -> Any:
    value = item.get(first)
    return item.get(second) if value is None else value


def delivery_report(item: Any, channel: str) -> DeliveryReport:
    """DeliveryReport.from_dict(item, channel=channel), read in place for documented reports.

    Pushes bring reports by the thousand with the same few status, error and price objects
    and timestamps: those are parsed once each, and the item's keys are read as documented
    (DeliveryReport.from_dict, which any other shape goes through, reads every key in any
    casing; tests/infobip pins that both give the same report).
    """
    if type(item) is not dict or not item.keys() <= _REPORT_KEYS:
        return DeliveryReport.from_dict(item, channel=channel)
    count = _present(item, "messageCount", "smsCount")
    try:
        message_count = int(count) if count is not None and count != "" else None
    except (TypeError, ValueError):
        message_count = None
    return DeliveryReport(
        message_id=str(item.get("messageId") or ""),
        sender=text_or_none(_present(item, "sender", "from")),
        bulk_id=text_or_none(item.get("bulkId")),
        sent_at=_time(item.get("sentAt")),
        done_at=_time(item.get("doneAt")),
        message_count=message_count,
        price=_part(Price.from_dict, item.get("price")),
        status=Status.from_dict(item.get("status")),
        error=_part(MessageError.from_dict, item.get("error")),
        raw=item,
        to=str(_present(item, "to", "destination") or ""),
        callback_data=text_or_none(item.get("callbackData")),
        channel=str(item.get("channel") or channel or "SMS").upper(),
        event=text_or_none(item.get("event")),
    )


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
    batch = _Batch()
    for event_id, event in events.items():
        try:
            items = results_of(json.loads(event.body)) or []
        except PARSE_ERRORS:
            items = []  # an unreadable body (edited by hand?) resolves nothing; never raises
        for p in (p for p in due if p.event_id == event_id and p.index < len(items)):
            try:
                _parse_item(batch, event, (p.event_id, p.index), items[p.index])
            except PARSE_ERRORS:
                continue
    with transaction.atomic():
        still = _retry_unknown(batch, now)
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


def _retry_unknown(batch: _Batch, now: datetime) -> set[Key]:
    """Offer the kept reports to their receivers again; returns the keys still unknown.

    A report that cannot be applied (it raises) stays pending, so it is retried and then
    flagged like an unknown one, and never stops the sweeper or the reports beside it.
    """
    try:
        with transaction.atomic():
            return _offer(batch, now)
    except Exception as exc:
        if transient(exc):
            raise
        logger.warning("retrying %d kept reports failed; one at a time", len(batch.item_keys()))
    still: set[Key] = set()
    for single in batch.singles():
        try:
            with transaction.atomic():
                still |= _offer(single, now)
        except Exception as exc:
            if transient(exc):
                raise
            logger.exception("kept report %s cannot be applied", single.item_keys())
            still |= set(single.item_keys())
    return still


def _offer(batch: _Batch, now: datetime) -> set[Key]:
    still = {key for key, _ in receiver("reports")(items=batch.reports)} if batch.reports else set()
    if batch.seen:
        still |= {key for key, _ in receiver("seen")(items=batch.seen, now=now)}
    return still
