"""Freezing a campaign's audience into the ledger at launch.

The audience is streamed from the database, each recipient rendered once, and the rows written
in chunks (COPY), each chunk committed with the campaign's
counters: sending starts as soon as the first chunk is in, instead of after the whole ledger
(a 1M-recipient freeze took 55 s before the first message went out). `frozen_at` is set when
the last chunk is in; until then "nothing queued" does not mean done. A freeze that dies part
way (a killed worker) is resumed from the last committed contact by the next start; one
freezer per campaign at a time (a PostgreSQL advisory lock, released with its connection).
Recipients who must not or cannot be sent to are written too, as `skipped` with the reason, so
"who got what" always has an answer.
"""

import datetime as dt
import json
import uuid
from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Max, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from psycopg import sql

from campaigns.audience import audience_contacts
from campaigns.caps import capped_contacts
from campaigns.consent_rules import no_opt_in_reason, without_channel_consent
from campaigns.models import Campaign, Message
from campaigns.pricing import estimate_cost
from campaigns.quiet import QuietHours
from campaigns.rendering import compile_template, contact_values
from campaigns.states import CampaignState
from campaigns.steps import campaign_kind, primary_content
from infobip.links import callback_data

BATCH = 5000
# The first chunk is one send batch: sending starts as soon as there is a batch to send.
FIRST_CHUNK = 1000
# Only the columns rendering reads, as plain tuples: full model instances were ~40 % of a 1M
# freeze (profiled). Rendering reads them by attribute, so a named tuple stands in for Contact.
_CONTACT_COLUMNS = (
    "id", "phone", "first_name", "last_name", "language", "timezone", "country", "attributes",
    "opted_out", "whatsapp_last_inbound_at",
)  # fmt: skip
ContactRow = namedtuple("ContactRow", _CONTACT_COLUMNS)
# pg_advisory_lock(class, campaign id): one freezer per campaign.
FREEZE_LOCK = 7_401
_COLUMNS = (
    "campaign_id",
    "contact_id",
    "phone",
    "channel",
    "attempt",
    "message_id",
    "callback_data",
    "bulk_id",
    "text",
    "template_values",
    "parts",
    "encoding",
    "state",
    "reason",
    "not_before",
    "status_group",
    "status_name",
    "error_group",
    "error_name",
    "currency",
    "created_at",
)


@dataclass(frozen=True)
class FreezeResult:
    recipients: int
    queued: int
    skipped: int


class _Renderer:
    """Renders one recipient's message for a campaign (texts and templates compiled once)."""

    def __init__(self, campaign: Campaign, now: dt.datetime) -> None:
        self.campaign = campaign
        self.now = now
        self.kind = campaign_kind(campaign)
        self.content = primary_content(campaign)
        self.text = None if self.kind.uses_template else compile_template(campaign.text)
        self.channel = self.kind.ledger

    def row(self, contact: ContactRow) -> tuple[str, str, object, int, str, str, str]:
        """(channel, text, template_values, parts, encoding, state, reason) for `contact`."""
        kind, channel = self.kind, self.channel
        if contact.opted_out:
            return channel, "", None, 0, "", "skipped", "opted out"
        if self.text is None:
            text, values, missing = kind.render_template(self.content, contact)
            if missing:
                return channel, "", None, 0, "", "skipped", missing
            return channel, text, values, 1, "", "queued", ""
        rendered = self.text.render(contact_values(contact, self.text.names))
        if rendered.missing:
            return channel, rendered.text, None, 0, "", "skipped", rendered.skip_reason
        if kind.session_field and (
            why := kind.session_skip(getattr(contact, kind.session_field), self.now)
        ):
            return channel, rendered.text, None, 0, "", "skipped", why
        parts, encoding = kind.measure(rendered.text)
        return channel, rendered.text, None, parts, encoding, "queued", ""


def campaign_freeze(
    *, campaign: Campaign, on_first_queued: Callable[[], None] | None = None
) -> FreezeResult | None:
    """Write one ledger row per audience contact (skipped ones with their reason), in chunks.

    `on_first_queued` is called once, after the first chunk with something to send commits (or
    at the end when there was none), so the caller can start sending. Returns None when another
    freezer holds the campaign.
    """
    with _freezer(campaign.pk) as mine:
        if not mine:
            return None
        return _freeze(campaign, on_first_queued)


def _freeze(campaign: Campaign, on_first_queued: Callable[[], None] | None) -> FreezeResult:
    now = timezone.now()
    campaign = Campaign.objects.select_related("template").get(pk=campaign.pk)
    if campaign.frozen_at is not None:
        # A duplicated start: the ledger is frozen already, nothing to add.
        return FreezeResult(campaign.recipients, campaign.count_queued, campaign.count_skipped)
    renderer = _Renderer(campaign, now)
    quiet = QuietHours(start=campaign.quiet_hours_start, end=campaign.quiet_hours_end, now=now)
    # Priced as the preview estimates it: by the campaign's channel type.
    priced_as = campaign.channel
    no_opt_in = no_opt_in_reason(campaign_kind(campaign))
    first = Message.objects.filter(campaign=campaign, attempt=1, replaces__isnull=True)
    after = first.aggregate(last=Max("contact_id"))["last"]
    # A resumed freeze does not start more chains: the first freezer's are there, and the
    # sweep restarts chains that stall.
    notify = on_first_queued if after is None else None
    contacts = audience_contacts(campaign).order_by("id")
    if after is not None:
        contacts = contacts.filter(id__gt=after)
    for batch in _batches(contacts.values_list(*_CONTACT_COLUMNS)):
        rows, priced, queued = [], [], 0
        # One grouped ledger query per chunk (none without caps): who is at a frequency cap.
        capped = capped_contacts(campaign=campaign, contact_ids=[c.id for c in batch], now=now)
        no_consent = without_channel_consent(campaign=campaign, contact_ids=[c.id for c in batch])
        for contact in batch:
            channel, text, values, parts, encoding, state, reason = renderer.row(contact)
            not_before = None
            if state == "queued" and contact.id in no_consent:
                state, reason, parts = "skipped", no_opt_in, 0
            if state == "queued" and contact.id in capped:
                state, reason, parts = "skipped", capped[contact.id], 0
            if state == "queued":
                not_before, why = quiet.wait(
                    phone=contact.phone, country=contact.country, timezone=contact.timezone
                )
                if why:
                    state, reason, parts = "skipped", why, 0
            if state == "queued":
                queued += 1
                priced.append((contact.phone, priced_as, parts))
            rows.append(
                (campaign.pk, contact.id, contact.phone, channel, 1, uuid.uuid4(),
                 callback_data(campaign.pk), "", text, values, parts, encoding, state,
                 reason, not_before, "", "", "", "", "", now)
            )  # fmt: skip
        # The preview's estimate, snapshot at launch, to compare with the actual cost.
        _commit_chunk(campaign, rows, queued, estimate_cost(priced).total)
        if queued and notify is not None:
            notify()
            notify = None
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(
            frozen_at=timezone.now(), estimated_cost=Coalesce(F("estimated_cost"), Value(0))
        )
    if notify is not None:
        notify()
    campaign.refresh_from_db(fields=["recipients", "count_queued", "count_skipped"])
    return FreezeResult(campaign.recipients, campaign.count_queued, campaign.count_skipped)


def _commit_chunk(campaign: Campaign, rows: list[tuple], queued: int, estimate: Decimal) -> None:
    """Insert one chunk and count it, atomically; a chunk that lands after a cancel is skipped."""
    with transaction.atomic():
        _insert(rows)
        qs = Campaign.objects.filter(pk=campaign.pk)
        qs.update(
            recipients=F("recipients") + len(rows),
            count_queued=F("count_queued") + queued,
            count_skipped=F("count_skipped") + len(rows) - queued,
            estimated_cost=Coalesce(F("estimated_cost"), Value(0)) + estimate,
        )
        # The UPDATE holds the campaign's row lock: a cancel has committed or waits for us.
        state, reason = qs.values_list("state", "state_reason").get()
        if state == CampaignState.CANCELLED and queued:
            from campaigns.services import _skip_queued

            _skip_queued(campaign, reason or "cancelled by an operator")


@contextmanager
def _freezer(campaign_id: int) -> Iterator[bool]:
    """Hold the campaign's freezer lock (an advisory lock); yields False when another has it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [FREEZE_LOCK, campaign_id])
        mine = cursor.fetchone()[0]
    try:
        yield mine
    finally:
        if mine:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [FREEZE_LOCK, campaign_id])


def freeze_in_progress(campaign_id: int) -> bool:
    """True while a live freezer holds the campaign (its lock dies with its connection)."""
    with _freezer(campaign_id) as free:
        return not free


def _batches(rows) -> Iterator[list[ContactRow]]:
    # Outside a transaction Django reads through a WITH HOLD cursor, which outlives the
    # commit of each chunk.
    batch: list[ContactRow] = []
    size = min(FIRST_CHUNK, BATCH)
    for row in rows.iterator(chunk_size=BATCH):
        batch.append(ContactRow._make(row))
        if len(batch) >= size:
            yield batch
            batch, size = [], BATCH
    if batch:
        yield batch


# A chunk of ledger rows, streamed: COPY is ≈10× bulk_create.
_COPY_MESSAGES = sql.SQL("COPY {messages} ({columns}) FROM STDIN").format(
    messages=sql.Identifier(Message._meta.db_table),
    columns=sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
)


def _insert(rows: list[tuple]) -> None:
    """Write one chunk (_COPY_MESSAGES)."""
    with connection.cursor() as cursor, cursor.copy(_COPY_MESSAGES) as copy:
        for row in rows:
            values = row[9]
            copy.write_row((*row[:9], None if values is None else json.dumps(values), *row[10:]))
