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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import F, Max, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from psycopg import sql

from campaigns.audience import audience_contacts
from campaigns.caps import capped_contacts
from campaigns.consent_rules import no_opt_in_reason, without_channel_consent
from campaigns.link_tokens import link_token, links_tag
from campaigns.models import Campaign, Message, SplitGroup, SplitRest, SplitTest, Variant
from campaigns.opt_out_law import Footers
from campaigns.pricing import estimate_cost
from campaigns.quiet import QuietHours, campaign_validity
from campaigns.rendering import compile_template, contact_values
from campaigns.split_plan import Cells, split_cells
from campaigns.states import CampaignState
from campaigns.steps import campaign_kind, primary_content
from channels.base import Content
from contacts.models import Contact
from infobip.links import callback_data

BATCH = 5000
# The first chunk is one send batch: sending starts as soon as there is a batch to send.
FIRST_CHUNK = 1000


# Only the columns rendering reads, as plain tuples: full model instances were ~40 % of a 1M
# freeze (profiled). Rendering reads them by attribute, so a named tuple stands in for Contact.
class ContactRow(NamedTuple):
    id: int
    phone: str
    first_name: str
    last_name: str
    language: str
    timezone: str
    country: str
    attributes: dict[str, object]
    opted_out: bool
    whatsapp_last_inbound_at: dt.datetime | None


_CONTACT_COLUMNS = ContactRow._fields
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
    "variant",
    "split_group",
)
HOLDOUT_REASON = "holdout: gets nothing, to measure the campaign's lift"


@dataclass(frozen=True)
class FreezeResult:
    recipients: int
    queued: int
    skipped: int


class _Renderer:
    """Renders one recipient's message for a campaign (texts and templates compiled once)."""

    def __init__(
        self, campaign: Campaign, now: dt.datetime, variant: Variant | None = None
    ) -> None:
        self.campaign = campaign
        self.now = now
        self.kind = campaign_kind(campaign)
        self.content = primary_content(campaign)
        if variant is not None:
            # A split's variant brings its own text or template; the rest is the campaign's.
            self.content = Content(
                text=variant.text,
                template=variant.template,
                mapping=variant.template_mapping,
                media_url=self.content.media_url,
                buttons=self.content.buttons,
            )
        self.text = None if self.kind.uses_template else compile_template(self.content.text)
        self.channel = self.kind.ledger
        self.footers = Footers(campaign)

    def row(self, contact: ContactRow) -> tuple[str, str, object, int, str, str, str | None]:
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
        text = self.footers.apply(rendered.text, contact) if self.footers.active else rendered.text
        parts, encoding = kind.measure(text)
        return channel, text, None, parts, encoding, "queued", ""


@dataclass
class Chunk:
    """One chunk's ledger rows, how many are queued, their estimate, and who waits instead."""

    rows: list[tuple[object, ...]]
    queued: int
    estimate: Decimal
    rest: list[int]


class _Chunker:
    """Turns a chunk of contacts into ledger rows: rendered, screened, each in its split group.

    `content` is the variant that every row gets (the winner, when the rest is released);
    without it each contact gets its group's variant (or the campaign's message).
    """

    def __init__(
        self,
        campaign: Campaign,
        now: dt.datetime,
        cells: Cells | None,
        *,
        group: int | None = None,
        content: Variant | None = None,
    ) -> None:
        self.campaign = campaign
        self.now = now
        self.cells = cells
        self.group = group
        self.renderer = _Renderer(campaign, now, content)
        self.content = content
        self.variants: dict[int, _Renderer] = {}
        if cells is not None and content is None:
            for variant in Variant.objects.filter(campaign=campaign).select_related("template"):
                self.variants[variant.position] = _Renderer(campaign, now, variant)
        self.quiet = QuietHours(
            start=campaign.quiet_hours_start,
            end=campaign.quiet_hours_end,
            now=now,
            validity=campaign_validity(campaign),
            since=campaign.launched_at,
        )
        # Priced as the preview estimates it: by the campaign's channel type.
        self.priced_as = campaign.channel
        self.no_opt_in = no_opt_in_reason(self.renderer.kind)
        # Tracked links carry a token a shop can pass back with a conversion.
        self.tag_links = campaign.track_links and not self.renderer.kind.uses_template

    def chunk(self, batch: list[ContactRow]) -> Chunk:
        campaign, now = self.campaign, self.now
        rows: list[tuple[object, ...]] = []
        priced: list[tuple[str, str, int]] = []
        queued, rest = 0, []
        # One grouped ledger query per chunk (none without caps): who is at a frequency cap.
        capped = capped_contacts(campaign=campaign, contact_ids=[c.id for c in batch], now=now)
        no_consent = without_channel_consent(campaign=campaign, contact_ids=[c.id for c in batch])
        for contact in batch:
            variant, group = self._group(contact.id)
            if group == SplitGroup.REST and self.cells is not None and self.cells.waits:
                rest.append(contact.id)
                continue
            if group == SplitGroup.HOLDOUT:
                rows.append(
                    (
                        campaign.pk,
                        contact.id,
                        contact.phone,
                        self.renderer.channel,
                        1,
                        uuid.uuid4(),
                        callback_data(campaign.pk),
                        "",
                        "",
                        None,
                        0,
                        "",
                        "skipped",
                        HOLDOUT_REASON,
                        None,
                        "",
                        "",
                        "",
                        "",
                        "",
                        now,
                        None,
                        group,
                    )
                )
                continue
            renderer = self.variants.get(variant, self.renderer) if variant else self.renderer
            channel, text, values, parts, encoding, state, reason = renderer.row(contact)
            not_before = None
            if state == "queued" and contact.id in no_consent:
                state, reason, parts = "skipped", self.no_opt_in, 0
            if state == "queued" and contact.id in capped:
                state, reason, parts = "skipped", capped[contact.id], 0
            if state == "queued":
                not_before, why = self.quiet.wait(
                    phone=contact.phone, country=contact.country, timezone=contact.timezone
                )
                if why:
                    state, reason, parts = "skipped", why, 0
            if state == "queued":
                queued += 1
                priced.append((contact.phone, self.priced_as, parts))
            message_id = uuid.uuid4()
            if self.tag_links and text:
                # Infobip shortens tracked links: the token costs no characters (parts stay).
                text = links_tag(text, link_token(message_id))
            rows.append(
                (
                    campaign.pk,
                    contact.id,
                    contact.phone,
                    channel,
                    1,
                    message_id,
                    callback_data(campaign.pk),
                    "",
                    text,
                    values,
                    parts,
                    encoding,
                    state,
                    reason,
                    not_before,
                    "",
                    "",
                    "",
                    "",
                    "",
                    now,
                    variant,
                    group,
                )
            )
        return Chunk(rows, queued, estimate_cost(priced).total, rest)

    def _group(self, contact_id: int) -> tuple[int | None, int | None]:
        if self.group is not None:  # the release: every row is the rest's, with the winner
            return (self.content.position if self.content else None), self.group
        if self.cells is None:
            return None, None
        return self.cells.group(contact_id)


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
    cells = split_cells(campaign=campaign)
    chunker = _Chunker(campaign, now, cells)
    first = Message.objects.filter(campaign=campaign, attempt=1, replaces__isnull=True)
    after = first.aggregate(last=Max("contact_id"))["last"]
    if cells is not None and cells.waits:
        # The rest's contacts wait without ledger rows: the last frozen may be one of them.
        waiting = SplitRest.objects.filter(campaign=campaign).aggregate(last=Max("contact_id"))
        after = max(after or 0, waiting["last"] or 0) or None
    # A resumed freeze does not start more chains: the first freezer's are there, and the
    # sweep restarts chains that stall.
    notify = on_first_queued if after is None else None
    contacts = audience_contacts(campaign).order_by("id")
    if after is not None:
        contacts = contacts.filter(id__gt=after)
    for batch in _batches(contacts.values_list(*_CONTACT_COLUMNS)):
        chunk = chunker.chunk(batch)
        # The preview's estimate, snapshot at launch, to compare with the actual cost.
        _commit_chunk(campaign, chunk.rows, chunk.queued, chunk.estimate, chunk.rest)
        if chunk.queued and notify is not None:
            notify()
            notify = None
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(
            frozen_at=timezone.now(), estimated_cost=Coalesce(F("estimated_cost"), Value(0))
        )
        if cells is not None:
            # Testing while the rest waits for the winner; done at once when nobody waits.
            state = SplitTest.State.TESTING if cells.waits else SplitTest.State.DONE
            SplitTest.objects.filter(campaign=campaign).update(state=state)
    if notify is not None:
        notify()
    campaign.refresh_from_db(fields=["recipients", "count_queued", "count_skipped"])
    return FreezeResult(campaign.recipients, campaign.count_queued, campaign.count_skipped)


def campaign_release_rest(
    *, campaign: Campaign, on_first_queued: Callable[[], None] | None = None
) -> int | None:
    """Write the ledger rows of a split's waiting rest with the decided winner, chunk by chunk.

    Each chunk's rows and the removal of its waiting contacts commit together, so however
    often a release is resumed, each contact gets the winner once. With no winner to send
    (the decision was "none") the rows are `skipped` with the decision. Returns the rows
    written, or None when another freezer holds the campaign.
    """
    with _freezer(campaign.pk) as mine:
        if not mine:
            return None
        return _release(campaign, on_first_queued)


def _release(campaign: Campaign, on_first_queued: Callable[[], None] | None) -> int:
    now = timezone.now()
    campaign = Campaign.objects.select_related("template").get(pk=campaign.pk)
    split = SplitTest.objects.get(campaign=campaign)
    if split.state != SplitTest.State.RELEASING:
        return 0
    # No winner (the decision was "none"): the rest's rows are skipped with the decision.
    winner = (
        Variant.objects.select_related("template")
        .filter(campaign=campaign, position=split.winner)
        .first()
        if split.winner is not None
        else None
    )
    chunker = _Chunker(campaign, now, None, group=SplitGroup.REST, content=winner)
    waiting = SplitRest.objects.filter(campaign=campaign).order_by("contact_id")
    written = 0
    while ids := list(waiting.values_list("contact_id", flat=True)[:BATCH]):
        batch = [
            ContactRow._make(row)
            for row in Contact.objects.filter(id__in=ids)
            .order_by("id")
            .values_list(*_CONTACT_COLUMNS)
        ]
        if winner is not None:
            chunk = chunker.chunk(batch)
        else:
            why = f"no winner was sent to the rest: {split.decision}"[:500]
            rows: list[tuple[object, ...]] = [
                (
                    campaign.pk,
                    c.id,
                    c.phone,
                    chunker.renderer.channel,
                    1,
                    uuid.uuid4(),
                    callback_data(campaign.pk),
                    "",
                    "",
                    None,
                    0,
                    "",
                    "skipped",
                    why,
                    None,
                    "",
                    "",
                    "",
                    "",
                    "",
                    now,
                    None,
                    SplitGroup.REST,
                )
                for c in batch
            ]
            chunk = Chunk(rows, 0, Decimal(0), [])
        _commit_chunk(campaign, chunk.rows, chunk.queued, chunk.estimate, released=ids)
        written += len(chunk.rows)
        if chunk.queued and on_first_queued is not None:
            on_first_queued()
            on_first_queued = None
    SplitTest.objects.filter(pk=split.pk, state=SplitTest.State.RELEASING).update(
        state=SplitTest.State.DONE, released_at=timezone.now()
    )
    if on_first_queued is not None:
        on_first_queued()
    return written


def _commit_chunk(
    campaign: Campaign,
    rows: list[tuple[object, ...]],
    queued: int,
    estimate: Decimal,
    rest: list[int] | None = None,
    released: list[int] | None = None,
) -> None:
    """Insert one chunk and count it, atomically; a chunk that lands after a cancel is skipped.

    `rest`: contacts that wait for a split's winner (no ledger row yet); `released`: waiting
    contacts whose rows these are, no longer waiting (in the same transaction: once each).
    """
    with transaction.atomic():
        _insert(rows)
        if rest:
            SplitRest.objects.bulk_create(
                [SplitRest(campaign_id=campaign.pk, contact_id=c) for c in rest], batch_size=5000
            )
        if released:
            SplitRest.objects.filter(campaign=campaign, contact_id__in=released).delete()
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


def _batches(rows: "QuerySet[Contact, tuple[Any, ...]]") -> Iterator[list[ContactRow]]:
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


def _insert(rows: list[tuple[object, ...]]) -> None:
    """Write one chunk (_COPY_MESSAGES)."""
    with connection.cursor() as cursor, cursor.copy(_COPY_MESSAGES) as copy:
        for row in rows:
            values = row[9]
            copy.write_row((*row[:9], None if values is None else json.dumps(values), *row[10:]))
