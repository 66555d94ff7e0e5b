"""What the ledger's writes take and give back: outcomes, claimed rows, send answers, results."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from campaigns.states import RANK, MessageState

FAILOVER_SENT_STATES = frozenset(
    {
        MessageState.ACCEPTED,
        MessageState.DELIVERED,
        MessageState.UNDELIVERABLE,
        MessageState.EXPIRED,
        MessageState.REJECTED,
    }
)

# State name → rank as plain strings (no enum look-ups on the hot path).
STATE_RANK = {str(state): rank for state, rank in RANK.items()}


@dataclass(frozen=True)
class Outcome:
    """What became of one message, from a send response, a report, a log or Herald itself."""

    message_id: str
    state: str
    status_group: str = ""
    status_id: int | None = None
    status_name: str = ""
    error_group: str = ""
    error_id: int | None = None
    error_name: str = ""
    error_permanent: bool | None = None
    price: Decimal | None = None
    currency: str = ""
    parts: int | None = None
    bulk_id: str = ""
    at: datetime | None = None
    reason: str = ""


@dataclass
class ApplyResult:
    """How a batch of outcomes landed in the ledger."""

    applied: int = 0
    unchanged: int = 0
    unknown: list[str] = field(default_factory=list)
    campaigns: set[int] = field(default_factory=set)
    # messageId → (id, state before, channel, contact id) of each message whose state moved.
    changed: dict[str, tuple[int, str, str, int | None]] = field(default_factory=dict)


@dataclass
class Deltas:
    """One campaign's counter and cost changes, written once per transaction."""

    counts: Counter[str] = field(default_factory=Counter)
    cost: Decimal = Decimal(0)
    currency: str = ""


@dataclass(slots=True)
class Claimed:
    """A claimed message with what sending it needs, as the claim's RETURNING read it."""

    id: int
    message_id: str  # canonical text form, made once: the send body and outcomes use it
    contact_id: int | None
    phone: str
    channel: str
    text: str
    template_values: dict[str, Any] | None
    callback_data: str
    replaces_id: int | None
    opted_out: bool
    claimed_at: datetime
    state: str = MessageState.QUEUED  # rows stay queued while their batch is in flight
    # The contact's zone and country as of the claim: quiet hours are checked again at send.
    zone: str = ""
    country: str = ""
    batch_id: int | None = None  # the SendBatch that holds this row while it is sent

    @property
    def pk(self) -> int:
        return self.id


@dataclass
class Screened:
    """What a claim's caller decided about the picked rows before they are batched."""

    keep: list[Claimed]
    skips: list[Outcome] = field(default_factory=list)  # queued → skipped now (opt-out…)
    holds: list[tuple[int, datetime]] = field(default_factory=list)  # not due until then
    hold_reason: str = ""


@dataclass(frozen=True, slots=True)
class SentStatus:
    """What Infobip's send answer said of one message, in ledger terms (shared by many)."""

    state: str
    status_group: str
    status_id: int | None
    status_name: str
    reason: str


@dataclass
class SentRecord:
    """How a send answer landed: rows moved, messageIds Herald does not know, liveness marked."""

    applied: int = 0
    unknown: list[str] = field(default_factory=list)
    marked: bool = False  # the campaign's last_batch_at was set with the counters
