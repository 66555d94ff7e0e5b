"""The sandbox's memory: accepted messages, their decided fate, pull queues and counters.

Each message's outcome is decided when it is accepted, from a hash of the seed and its
messageId (and, for "not on WhatsApp", of its number), so the truth is reproducible and can be
compared with what Herald recorded.
"""

import hashlib
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from infobip.sandbox import templates
from infobip.sandbox.codes import OUTCOME_VARIANTS, OUTCOMES
from infobip.sandbox.config import Config

SMS, WHATSAPP = "SMS", "WHATSAPP"
WHATSAPP_SESSION_SECONDS = 24 * 3600
# The channels whose delivered messages may also be "seen" (SMS has no seen receipts).
UNSEEN_CHANNELS = frozenset({SMS})


class Message:
    """One accepted message (one destination); `final_*` is its decided fate."""

    __slots__ = (
        "accepted_at",
        "application_id",
        "bulk_id",
        "callback_data",
        "campaign_ref",
        "channel",
        "done_at",
        "entity_id",
        "failover",
        "final_error",
        "final_status",
        "intermediate",
        "message_id",
        "outcome",
        "parts",
        "price",
        "regional",
        "seen",
        "sender",
        "state",
        "template",
        "text",
        "to",
        "url",
    )
    # Set by decide() when the message is accepted, not in __init__: declared for the type checker.
    final_status: str
    final_error: str
    outcome: str
    price: float

    def __init__(
        self,
        message_id: str,
        channel: str,
        to: str,
        sender: str,
        bulk_id: str | None,
        text: str | None,
        parts: int,
        accepted_at: float,
        url: str | None = None,
        intermediate: bool = False,
        callback_data: str | None = None,
        entity_id: str | None = None,
        application_id: str | None = None,
        campaign_ref: str | None = None,
        template: dict[str, Any] | None = None,
        failover: dict[str, Any] | None = None,
    ) -> None:
        self.message_id, self.channel, self.to, self.sender = message_id, channel, to, sender
        self.bulk_id, self.text, self.parts, self.accepted_at = bulk_id, text, parts, accepted_at
        self.url, self.intermediate, self.callback_data = url, intermediate, callback_data
        self.entity_id, self.application_id, self.campaign_ref = (
            entity_id,
            application_id,
            campaign_ref,
        )
        self.template, self.failover = template, failover
        self.seen = False
        self.regional: dict[str, Any] | None = None  # SMS options.regional, as sent
        self.done_at: float | None = None
        self.state = "accepted"  # → intermediate → final


def _unit(*parts: str) -> float:
    """A uniform number in [0, 1) derived from `parts` (stable across runs and machines)."""
    digest = hashlib.blake2b(":".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@lru_cache(maxsize=64)
def _thresholds(outcomes: tuple[tuple[str, float], ...]) -> tuple[tuple[float, str], ...]:
    """Cumulative shares of the outcome mix, in OUTCOMES order (cached per mix)."""
    shares = dict(outcomes)
    total = sum(shares.values())
    out, acc = [], 0.0
    for name in OUTCOMES:
        if shares.get(name, 0.0) > 0:
            acc += shares[name] / total
            out.append((acc, name))
    out[-1] = (1.0, out[-1][1])  # rounding must never leave u without an outcome
    return tuple(out)


def _pick_outcome(config: Config, u: float) -> str:
    for threshold, name in _thresholds(tuple(config.outcomes.items())):
        if u < threshold:
            return name
    raise AssertionError("unreachable: the last threshold is 1.0")


def regional_problem(message: Message) -> str | None:
    """The error Indian operators' DLT scrubbing answers an SMS without its DLT fields with.

    TRAI's rules block commercial SMS to Indian numbers (+91) that do not name the sender's
    registered principal entity and the text's content template (Infobip's
    `options.regional.indiaDlt`); Infobip reports them undeliverable after the send was
    accepted, which is what Herald's launch check exists to prevent.
    """
    if not message.to.startswith("91"):
        return None
    dlt = (message.regional or {}).get("indiaDlt") or {}
    if not dlt.get("principalEntityId"):
        return "EC_BLOCKED_BY_DLT"
    if not dlt.get("contentTemplateId"):
        return "EC_INVALID_TEMPLATE_ID"
    return None


def _whatsapp_problem(
    message: Message, config: Config, now: float, last_inbound: dict[str, float]
) -> str | None:
    if _unit(config.seed, "wa", message.to) < config.not_on_whatsapp:
        return "EC_UNKNOWN_USER"
    if message.template is not None:
        return templates.send_problem(message.template)
    if config.enforce_whatsapp_session and (
        now - last_inbound.get(message.to, -1e18) > WHATSAPP_SESSION_SECONDS
    ):
        return "EC_NO_SESSION"
    return None


def _messages_api_problem(
    message: Message, config: Config, now: float, last_inbound: dict[str, float]
) -> str | None:
    # A number the channel cannot reach: not on Viber, a phone without RCS.
    share = config.not_on_channel.get(message.channel, 0.0)
    if share and _unit(config.seed, message.channel, message.to) < share:
        return "EC_UNKNOWN_USER"
    return None


def _sms_problem(
    message: Message, config: Config, now: float, last_inbound: dict[str, float]
) -> str | None:
    return regional_problem(message)


# Why a message cannot reach its number, per Infobip channel (any other: the Messages API's).
REACH: dict[str, Callable[[Message, Config, float, dict[str, float]], str | None]] = {
    SMS: _sms_problem,
    WHATSAPP: _whatsapp_problem,
}
# The status a message its channel cannot take gets (an SMS: the operator rejected it).
REFUSED_STATUS: dict[str, str] = {SMS: "UNDELIVERABLE_REJECTED_OPERATOR"}
# What a delivered message costs, per channel (SMS: every part; any other: messages_price).
PRICES: dict[str, Callable[[Message, Config], float]] = {
    SMS: lambda m, c: round(c.sms_price * max(1, m.parts or 1), 6),
    WHATSAPP: lambda m, c: c.whatsapp_price,
}


def decide(message: Message, config: Config, now: float, last_inbound: dict[str, float]) -> None:
    """Fix the message's final status, error, price, seen report and SMS failover."""
    u = _unit(config.seed, message.message_id)
    outcome = _pick_outcome(config, u)
    variants = OUTCOME_VARIANTS[outcome]
    status, error = variants[int(u * 1e9) % len(variants)] if len(variants) > 1 else variants[0]
    problem = REACH.get(message.channel, _messages_api_problem)(message, config, now, last_inbound)
    if problem:
        refused = REFUSED_STATUS.get(message.channel, "UNDELIVERABLE_NOT_DELIVERED")
        status, error, outcome = refused, problem, "undeliverable"
    message.final_status, message.final_error, message.outcome = status, error, outcome
    if outcome == "rejected" or problem:
        message.price = 0.0
    else:
        # v3 reports price the whole message ("Price per one message"): every SMS part counts.
        price = PRICES.get(message.channel)
        message.price = price(message, config) if price else config.messages_price
    if message.channel not in UNSEEN_CHANNELS and status == "DELIVERED_TO_HANDSET":
        message.seen = _unit(config.seed, "seen", message.message_id) < config.seen_rate
    if problem == "EC_UNKNOWN_USER" and message.failover is not None:
        fu = _unit(config.seed, "failover", message.message_id)
        f_outcome = _pick_outcome(config, fu)
        f_variants = OUTCOME_VARIANTS[f_outcome]
        message.failover["status"], message.failover["error"] = f_variants[0]
        message.failover["price"] = config.sms_price if f_outcome != "rejected" else 0.0


class Store:
    """Everything the sandbox remembers, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every message, report, inbound message and counter."""
        self.messages: dict[str, Message] = {}
        self.copies: dict[str, int] = {}
        self.log: list[Message] = []
        self.by_bulk: dict[str, list[Message]] = {}
        self.recipient_keys: set[tuple[str, str, str]] = set()
        self.sms_pull: deque[tuple[Message, str, float]] = (
            deque()
        )  # (message, kind, at) for GET /sms/3/reports
        self.ma_pull: deque[tuple[Message, str, float]] = (
            deque()
        )  # the same for GET /messages-api/1/reports
        self.inbox: deque[dict[str, Any]] = (
            deque()
        )  # inbound SMS results for GET /sms/1/inbox/reports
        self.inbound_configs: dict[str, dict[str, Any]] = {}
        # messageId → the send's tracking options (`urlOptions` / SMS `options.tracking`).
        self.tracking: dict[str, dict[str, Any]] = {}
        # SMS sent with options.conversionTracking, and how often each was logged converted.
        self.conversion_tracked: set[str] = set()
        self.conversions: Counter[str] = Counter()  # by messageId
        self.last_inbound: dict[str, float] = {}
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "accepted",
                "accepted_sms",
                "accepted_whatsapp",
                "duplicate_message_id",
                "duplicate_recipient_callback",
                "requests",
                "rejected_400",
                "rejected_401",
                "fault_429",
                "fault_5xx",
                "fault_dropped",
                "fault_slow",
                "reports_pushed",
                "push_requests",
                "push_failures",
                "push_refused",
                "push_abandoned",
                "duplicate_pushes",
                "reports_pulled",
                "inbound_pushed",
                "inbound_failed",
                "inbound_queued",
                "conversions_logged",
                "conversions_refused",
            ),
            0,
        )
        self.outcomes: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        self.by_channel: Counter[str] = Counter()  # accepted messages per Infobip channel

    def add(self, messages: list[Message], config: Config) -> None:
        """Record accepted messages, deciding each one's fate; counts duplicates."""
        now = time.time()
        for m in messages:
            decide(m, config, now, self.last_inbound)
        self.load(messages)

    def load(self, messages: list[Message]) -> None:
        """Record messages whose fate is decided already (accepted now, or read back)."""
        with self.lock:
            counts, known, keys = self.counts, self.messages, self.recipient_keys
            for m in messages:
                self.outcomes[m.outcome] += 1
                if m.message_id in known:
                    counts["duplicate_message_id"] += 1
                    self.copies[m.message_id] = self.copies.get(m.message_id, 1) + 1
                else:
                    known[m.message_id] = m
                if m.callback_data is not None:
                    key = (m.channel, m.to, m.callback_data)
                    if key in keys:
                        counts["duplicate_recipient_callback"] += 1
                    else:
                        keys.add(key)
                if m.bulk_id:
                    self.by_bulk.setdefault(m.bulk_id, []).append(m)
            self.log.extend(messages)
            channels = Counter(m.channel for m in messages)
            self.by_channel.update(channels)
            counts["accepted"] += len(messages)
            counts["accepted_sms"] += channels[SMS]
            counts["accepted_whatsapp"] += channels[WHATSAPP]

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n

    def truth(self, m: Message) -> dict[str, Any]:
        """What really happened to `m` (for tests, drills and the UI)."""
        return {
            "messageId": m.message_id,
            "channel": m.channel,
            "to": m.to,
            "sender": m.sender,
            "bulkId": m.bulk_id,
            "callbackData": m.callback_data,
            "outcome": m.outcome,
            "status": m.final_status,
            "error": m.final_error,
            "price": m.price,
            "messageCount": m.parts,
            "state": m.state,
            "reportUrl": m.url,
            "seen": m.seen,
            "failover": dict(m.failover) if m.failover else None,
            "regional": m.regional,
            "copies": self.copies.get(m.message_id, 1),
            "acceptedAt": m.accepted_at,
        }
