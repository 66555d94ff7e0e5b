"""Delivery and seen reports: when they happen, what they look like, and pushing them.

A request's messages get one schedule entry (not one per message). A scheduler thread turns due
entries into report events, queues them for the pull endpoints, groups them by report URL into
`{"results": [...]}` batches of `push_batch` and hands the batches to a thread pool whose threads
each keep one keep-alive connection per host. A failed push is retried after 0.5 s · (1 + n²).

WhatsApp SMS failover (not confirmed by Infobip's documents, our convention): when a template
with `smsFailover` goes to a number that is not on WhatsApp, the WhatsApp report
(UNDELIVERABLE_NOT_DELIVERED / EC_UNKNOWN_USER) is followed on the same URL by a report for the
failover SMS in the SMS v3 shape (same messageId and callbackData, `sender` = the failover sender).
"""

import heapq
import http.client
import ipaddress
import itertools
import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from typing import Any
from urllib.parse import urlsplit

import orjson

from infobip.sandbox.codes import ERROR_OBJECTS, STATUS_OBJECTS, price, timestamp
from infobip.sandbox.config import Config
from infobip.sandbox.state import SMS, WHATSAPP, Message, Store

log = logging.getLogger("infobip.sandbox")
INTERMEDIATE, FINAL, SEEN, FAILOVER, RETRY = "intermediate", "final", "seen", "failover", "retry"
# The channels whose reports `GET /sms/3/reports` returns (the SMS API's own).
SMS_API_CHANNELS = frozenset({SMS})


def is_loopback_url(url: str) -> bool:
    """True when `url` points at this machine (the only place the sandbox pushes by default)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _leg(m: Message) -> dict[str, Any]:
    """The failover SMS of a message reported as FAILOVER (only those are)."""
    if m.failover is None:
        raise ValueError(f"{m.message_id} has no failover to report")
    return m.failover


def _status_error(m: Message, kind: str) -> tuple[str, str, float]:
    if kind == FAILOVER:
        leg = _leg(m)
        return leg["status"], leg["error"], leg["price"]
    if kind == INTERMEDIATE:
        name = "DELIVERED_TO_OPERATOR" if m.outcome == "delivered" else "PENDING_ENROUTE"
        return name, "NO_ERROR", m.price
    return m.final_status, m.final_error, m.price


def sms_report(m: Message, kind: str, at: float, currency: str) -> dict[str, Any]:
    """One item of the SMS v3 delivery report (`receive-outbound-sms-message-reports-v3`)."""
    status, error, amount = _status_error(m, kind)
    failover = kind == FAILOVER
    item: dict[str, Any] = {
        "bulkId": m.bulk_id or "",
        "price": price(amount, currency),
        "status": STATUS_OBJECTS[status],
        "error": ERROR_OBJECTS[error],
        "messageId": m.message_id,
        "to": m.to,
        "sender": _leg(m)["from"] if failover else m.sender,
        "sentAt": timestamp(m.accepted_at),
        "doneAt": timestamp(at),
        "messageCount": _leg(m)["parts"] if failover else m.parts,
    }
    if m.callback_data is not None:
        item["callbackData"] = m.callback_data
    if m.entity_id or m.application_id:
        item["platform"] = {
            k: v for k, v in (("entityId", m.entity_id), ("applicationId", m.application_id)) if v
        }
    if m.campaign_ref:
        item["campaignReferenceId"] = m.campaign_ref
    return item


def whatsapp_report(m: Message, kind: str, at: float, currency: str) -> dict[str, Any]:
    """One item of the WhatsApp delivery report (`receive-whatsapp-delivery-reports`)."""
    status, error, amount = _status_error(m, kind)
    item: dict[str, Any] = {
        "bulkId": m.bulk_id or "",
        "price": price(amount, currency),
        "status": STATUS_OBJECTS[status],
        "error": ERROR_OBJECTS[error],
        "messageId": m.message_id,
        "doneAt": timestamp(at),
        "messageCount": m.parts,
        "sentAt": timestamp(m.accepted_at),
        "to": m.to,
        "contact": {"phoneNumber": m.to},
    }
    if m.callback_data is not None:
        item["callbackData"] = m.callback_data
    return item


def seen_report(m: Message, at: float) -> dict[str, Any]:
    """One item of the WhatsApp seen report (`receive-whatsapp-seen-reports`): no status."""
    item: dict[str, Any] = {
        "messageId": m.message_id,
        "from": m.sender,
        "to": m.to,
        "sentAt": timestamp(m.accepted_at),
        "seenAt": timestamp(at),
        "contact": {"phoneNumber": m.to},
    }
    if m.application_id:
        item["applicationId"] = m.application_id
    if m.entity_id:
        item["entityId"] = m.entity_id
    return item


def messages_api_report(m: Message, kind: str, at: float, currency: str) -> dict[str, Any]:
    """One item of `GET /messages-api/1/reports` (all channels)."""
    status, error, _ = _status_error(m, kind)
    failover = kind == FAILOVER
    item: dict[str, Any] = {
        "event": "DELIVERY",
        "channel": SMS if failover else m.channel,
        "sender": _leg(m)["from"] if failover else m.sender,
        "destination": m.to,
        "sentAt": timestamp(m.accepted_at),
        "doneAt": timestamp(at),
        "bulkId": m.bulk_id or "",
        "messageId": m.message_id,
        "messageCount": _leg(m)["parts"] if failover else m.parts,
        "status": STATUS_OBJECTS[status],
        "error": ERROR_OBJECTS[error],
    }
    if m.callback_data is not None:
        item["callbackData"] = m.callback_data
    if m.entity_id or m.application_id:
        item["platform"] = {
            k: v for k, v in (("entityId", m.entity_id), ("applicationId", m.application_id)) if v
        }
    if m.campaign_ref:
        item["campaignReferenceId"] = m.campaign_ref
    return item


def messages_api_seen(m: Message, at: float) -> dict[str, Any]:
    """One item of the Messages API seen report (`receive-messages-api-seen-reports`)."""
    item: dict[str, Any] = {
        "event": "SEEN",
        "channel": m.channel,
        "sender": m.sender,
        "destination": m.to,
        "sentAt": timestamp(m.accepted_at),
        "seenAt": timestamp(at),
        "bulkId": m.bulk_id or "",
        "messageId": m.message_id,
    }
    if m.callback_data is not None:
        item["callbackData"] = m.callback_data
    return item


# The report shapes of the API each channel is sent through: SMS and WhatsApp have their own
# APIs; every other channel (Viber, RCS…) goes through the Messages API and reports in its shape.
REPORT_SHAPES = {SMS: sms_report, WHATSAPP: whatsapp_report}
SEEN_SHAPES = {WHATSAPP: seen_report}


def push_item(m: Message, kind: str, at: float, currency: str) -> dict[str, Any]:
    """The pushed item for an event, in the shape of the API the message was sent through."""
    if kind == SEEN:
        return SEEN_SHAPES.get(m.channel, messages_api_seen)(m, at)
    if kind == FAILOVER:
        return sms_report(m, kind, at, currency)
    return REPORT_SHAPES.get(m.channel, messages_api_report)(m, kind, at, currency)


class Reporter:
    """Schedules report events, queues them for pull, and pushes them to report URLs."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._local = threading.local()
        self._inflight = 0
        self._scheduled = 0  # events waiting in the heap
        self._processing = 0  # events taken from the heap, not yet handed to the pool
        self._stop = False
        self._rng = random.Random()
        self.on_final: Callable[[list[Message]], None] | None = None  # e.g. persistence
        self._pool = ThreadPoolExecutor(config.push_workers, thread_name_prefix="sandbox-push")
        self._thread = threading.Thread(target=self._run, name="sandbox-reports", daemon=True)
        self._thread.start()

    # --- scheduling -------------------------------------------------------------------------
    def schedule(self, messages: list[Message], not_before: float | None = None) -> None:
        """Plan the reports of freshly accepted messages (one heap entry per request)."""
        cfg, now = self.config, time.time()
        if not_before is not None:  # scheduled sends (`sendAt`) report after their time
            now = max(now, not_before)
        delay = cfg.push_delay * (1 + cfg.push_jitter * (self._rng.random() - 0.5))
        intermediate = [m for m in messages if m.intermediate or cfg.intermediate]
        with self._cond:
            self._push_entry(now + delay, FINAL, messages)
            if intermediate:
                # Out of order on purpose when shuffling: the intermediate lands after the final.
                at = now + (delay * 1.5 + 0.05 if cfg.shuffle_pushes else delay / 2)
                self._push_entry(at, INTERMEDIATE, intermediate)
            self._cond.notify()

    def _push_entry(self, due: float, kind: str, payload: Any) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), kind, payload))
        self._scheduled += len(payload) if kind != RETRY else payload[2]

    def pending(self) -> int:
        """Report events not yet pushed (scheduled, in flight or waiting for a retry)."""
        with self._cond:
            return self._scheduled + self._processing + self._inflight

    def flush(self, timeout: float = 10.0) -> int:
        """Make every scheduled event due now and wait until all are pushed; returns pending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                # Due now, but in their planned order (intermediate reports before finals).
                planned = sorted(self._heap)
                self._heap = [(0.0, next(self._seq), kind, p) for _, _, kind, p in planned]
                self._cond.notify()
            if self.pending() == 0:
                return 0
            time.sleep(0.01)
        return self.pending()

    def clear(self) -> None:
        """Drop every scheduled event (reset)."""
        with self._cond:
            self._heap.clear()
            self._scheduled = 0

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- the scheduler thread ---------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._heap or self._heap[0][0] > time.time()):
                    wait = self._heap[0][0] - time.time() if self._heap else 1.0
                    self._cond.wait(timeout=max(0.001, min(wait, 1.0)))
                if self._stop:
                    return
                now = time.time()
                due = []
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap))
                # Still pending until handed to the push pool (flush must not see a gap).
                processing = sum(p[2] if k == RETRY else len(p) for _, _, k, p in due)
                self._scheduled -= processing
                self._processing += processing
            try:
                self._process(due, now)
            except Exception:  # the scheduler must survive a bad event
                log.exception("sandbox report processing failed")
            finally:
                with self._cond:
                    self._processing -= processing

    def _process(self, due: list[tuple[float, int, str, Any]], now: float) -> None:
        cfg = self.config
        events: list[tuple[Message, str]] = []
        seen: list[Message] = []
        finals: list[Message] = []
        for _, _, kind, payload in due:
            if kind == RETRY:
                with self._cond:
                    self._inflight += payload[2]
                self._pool.submit(self._push, *payload)
                continue
            for m in payload:
                if kind == FINAL:
                    m.state, m.done_at = FINAL, now
                    finals.append(m)
                    events.append((m, FINAL))
                    if m.failover is not None and "status" in m.failover:
                        events.append((m, FAILOVER))
                    if m.seen:
                        seen.append(m)
                elif kind == INTERMEDIATE:
                    if m.state == "accepted":
                        m.state = INTERMEDIATE
                    events.append((m, INTERMEDIATE))
                else:
                    events.append((m, SEEN))
        if finals and self.on_final is not None:
            self.on_final(finals)
        if seen:
            with self._cond:
                self._push_entry(now + max(cfg.push_delay / 2, 0.01), SEEN, seen)
        if not events:
            return
        if cfg.shuffle_pushes:
            # Any order across messages, and a message's final report before its intermediate.
            self._rng.shuffle(events)
            events.sort(key=lambda event: event[1] == INTERMEDIATE)
        self._queue_for_pull(events, now)
        self._push_events(events, now)

    def _queue_for_pull(self, events: list[tuple[Message, str]], now: float) -> None:
        store = self.store
        with store.lock:
            for m, kind in events:
                if kind == SEEN:
                    continue
                store.ma_pull.append((m, kind, now))
                if m.channel in SMS_API_CHANNELS:
                    store.sms_pull.append((m, kind, now))

    def _push_events(self, events: list[tuple[Message, str]], now: float) -> None:
        cfg = self.config
        by_url: dict[str, list[dict[str, Any]]] = defaultdict(list)
        refused = 0
        for m, kind in events:
            url = m.url or cfg.default_report_url
            if not url:
                continue
            if not cfg.allow_remote_push and not is_loopback_url(url):
                refused += 1
                continue
            by_url[url].append(push_item(m, kind, now, cfg.currency))
        if refused:
            self.store.count("push_refused", refused)
        for url, items in by_url.items():
            for start in range(0, len(items), cfg.push_batch):
                batch = items[start : start + cfg.push_batch]
                body = orjson.dumps({"results": batch})
                copies = 2 if self._rng.random() < cfg.duplicate_pushes else 1
                if copies == 2:
                    self.store.count("duplicate_pushes")
                for _ in range(copies):
                    with self._cond:
                        self._inflight += len(batch)
                    self._pool.submit(self._push, url, body, len(batch), 0)

    # --- the push threads -------------------------------------------------------------------
    def _post(self, url: str, body: bytes) -> int:
        """POST on this thread's keep-alive connection to the URL's host; returns the status.

        http.client rather than requests: a third of the CPU per push, which matters when
        pushing 20,000 reports/s from the process that is also accepting 20,000 messages/s.
        """
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        pool = self._local.__dict__.setdefault("connections", {})
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"Content-Type": "application/json", "User-Agent": "InfobipSandbox/1.0"}
        for retry_stale in (True, False):
            conn = pool.get(key)
            if conn is None:
                kind = http.client.HTTPSConnection if parts.scheme == "https" else HTTPConnection
                conn = pool[key] = kind(parts.netloc, timeout=self.config.push_timeout)
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.will_close:
                    conn.close()
                    del pool[key]
                status: int = response.status
                return status
            except (OSError, http.client.HTTPException):
                conn.close()
                del pool[key]
                if not retry_stale:  # a kept-alive connection the server closed: retry once
                    raise
        raise AssertionError("unreachable")

    def _push(self, url: str, body: bytes, n: int, attempt: int) -> None:
        try:
            ok = 200 <= self._post(url, body) < 300
        except (OSError, http.client.HTTPException, ValueError):
            ok = False
        store = self.store
        with store.lock:
            store.counts["push_requests"] += 1
            if ok:
                store.counts["reports_pushed"] += n
            else:
                store.counts["push_failures"] += 1
        retry = not ok and attempt < self.config.push_retries
        with self._cond:
            self._inflight -= n
            if retry:
                delay = 0.5 * (1 + (attempt + 1) ** 2)
                self._push_entry(time.time() + delay, RETRY, (url, body, n, attempt + 1))
                self._cond.notify()
        if not ok and not retry:
            store.count("push_abandoned", n)
