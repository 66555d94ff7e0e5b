"""Campaigns and the per-recipient ledger.

A launch freezes the audience into `Message` rows (one per recipient and attempt); every state
change of a message after it was sent, and every release or hold with its reason, is also a
`MessageEvent` (the send itself is on the row: claimed_at, accepted_at, status, reason). The
campaign keeps denormalised counters so status pages never count the ledger.
"""

import datetime as dt
import secrets
import uuid
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from campaigns.states import CampaignState, MessageState
from channels.registry import channel_choices, medium_choices


class AudienceMatch(models.TextChoices):
    ANY = "any", "On the lists or in the segment"
    ALL = "all", "On the lists and in the segment"


class FailoverMode(models.TextChoices):
    NONE = "none", "No fallback"
    HERALD = "herald", "Herald sends the next step when one fails or stays silent"
    INFOBIP = "infobip", "Infobip's native smsFailover on the template request"


# The step the SMS failover's old names (`failover_text`, `failover_sender`,
# `failover_validity_minutes`, `--sms-failover-text`) stand for in a fallback chain.
LEGACY_FAILOVER_CHANNEL = "sms"


class SplitGroup(models.IntegerChoices):
    """Which part of a split a ledger row belongs to (NULL on campaigns without one)."""

    HOLDOUT = 0, "Holdout (gets nothing)"
    TEST = 1, "Test"
    REST = 2, "Rest (gets the winner)"


class SpeedUnit(models.TextChoices):
    SECOND = "second", "per second"
    MINUTE = "minute", "per minute"


# Infobip silently caps an SMS validity period at 48 hours (docs/INFOBIP.md §6).
SMS_VALIDITY_MAX_MINUTES = 2880

# The counter field for each message state, kept in step with the ledger by the services.
COUNTER_FIELDS = {state.value: f"count_{state.value}" for state in MessageState}


class Campaign(models.Model):
    """A message to an audience, and its run."""

    name = models.CharField(max_length=200)
    # A registered channel type (channels/registry.py): its choices are read from the registry
    # when used, so a new type needs no migration.
    channel = models.CharField(max_length=20, choices=channel_choices, default="sms")
    sender = models.CharField(
        max_length=64,
        blank=True,
        help_text="Blank (auto): each recipient's country's sender (channels.Sender), else the "
        "default sender",
    )
    text = models.TextField(blank=True, help_text="SMS or WhatsApp text; {{placeholders}} allowed")
    template = models.ForeignKey(
        "whatsapp.WhatsAppTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
    )
    template_mapping = models.JSONField(default=dict, blank=True)
    # Rich content, on the channel types that carry it (ChannelType.content_kinds): an image by
    # URL (the text is its caption) and buttons, [{"text", "url"} | {"text", "postback"}].
    media_url = models.CharField(max_length=2048, blank=True)
    buttons = models.JSONField(default=list, blank=True)
    lists = models.ManyToManyField("contacts.ContactList", related_name="campaigns")
    exclude_lists = models.ManyToManyField(
        "contacts.ContactList", related_name="excluded_from_campaigns", blank=True
    )

    failover_mode = models.CharField(
        max_length=10, choices=FailoverMode.choices, default=FailoverMode.NONE
    )
    # The fallback chain after the campaign's own channel, in order (campaigns/steps.py):
    # [{"channel": "rcs", "text": "", "sender": "", "validity_minutes": null}, {"channel": …}]
    # A step without a text says the campaign's text.
    fallback = models.JSONField(
        default=list, blank=True, help_text='[{"channel": "sms", "text": "…"}] after the channel'
    )
    failover_after = models.DurationField(
        null=True, blank=True, help_text="The next step goes when a step stays silent this long"
    )

    # Tracked short links and validity periods (docs/HOW_IT_WORKS.md "Provider features").
    track_links = models.BooleanField(
        default=False, help_text="Shorten links and count their clicks (Infobip URL tracking)"
    )
    sms_validity_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(SMS_VALIDITY_MAX_MINUTES)],
        help_text="How long Infobip keeps trying an SMS (at most 2,880 = 48 h); blank: 48 h",
    )
    whatsapp_validity_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="A WhatsApp message with no final report this long becomes expired (Herald)",
    )

    send_at = models.DateTimeField(null=True, blank=True)
    speed_limit = models.PositiveIntegerField(null=True, blank=True)
    speed_unit = models.CharField(
        max_length=10, choices=SpeedUnit.choices, default=SpeedUnit.MINUTE
    )
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="Recipient local time")
    quiet_hours_end = models.TimeField(null=True, blank=True)
    # Audiences (#17): lift the workspace's frequency caps for this campaign (needs the send
    # permission, audited), and a spending limit checked at launch and while sending.
    frequency_cap_override = models.BooleanField(default=False)
    # False only for a one-off transactional answer confirmed as such (the API's
    # "respect_opt_out": false, an inbox reply confirmed as transactional): its rows are then
    # not skipped at send time for an opt-out. Marketing campaigns always respect opt-outs.
    respect_opt_out = models.BooleanField(default=True, editable=False)
    # A saved segment targeted besides the lists (its rules evaluated at freeze), and one
    # whose members are excluded like an exclusion list.
    segment = models.ForeignKey(
        "campaigns.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    exclude_segment = models.ForeignKey(
        "campaigns.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # With both lists and a segment: "any" sends to people on the lists or in the segment,
    # "all" to people on the lists who are also in the segment (the segment narrows them).
    audience_match = models.CharField(
        max_length=3, choices=AudienceMatch.choices, default=AudienceMatch.ANY
    )
    max_spend = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True, help_text="Budget cap"
    )
    # Marketing SMS to countries whose law asks every message to say how to opt out get a line
    # saying it (campaigns/opt_out_law.py); off, such a campaign is refused at launch unless its
    # text says it already.
    opt_out_footer = models.BooleanField(
        default=True, help_text="Add “Reply STOP to opt out” where the law requires it"
    )
    # Countries' rules (channels/regional.py, docs/COUNTRIES.md): India's DLT content template
    # of the campaign's SMS text (its own or its SMS fallback's), Turkey's IYS recipient type
    # for recipients whose contact attribute has none, South Korea's message title.
    dlt_template_id = models.CharField("DLT content template id", max_length=64, blank=True)
    iys_recipient_type = models.CharField(
        "IYS recipient type",
        max_length=8,
        blank=True,
        choices=[("BIREYSEL", "BIREYSEL (individual)"), ("TACIR", "TACIR (merchant)")],
    )
    kr_title = models.CharField("South Korean title", max_length=66, blank=True)
    # Destination countries left out of the audience (ISO codes): how a marketer excludes the
    # recipients of a country whose rules the campaign cannot meet.
    exclude_countries = models.JSONField(default=list, blank=True)
    # False for transactional sends (the API's): outside rules on promotional messages (IYS).
    promotional = models.BooleanField(default=True, editable=False)

    state = models.CharField(
        max_length=12, choices=CampaignState.choices, default=CampaignState.DRAFT, db_index=True
    )
    state_reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Hidden from the campaign list and the dashboard (campaigns.editing.campaign_archive);
    # nothing else about the campaign changes.
    archived_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # History (campaigns/history.py): the ledger and its events, moved to a compressed file
    # once the campaign finished longer ago than the retention period; the counters stay.
    history_archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    history_archive = models.CharField(max_length=500, blank=True, editable=False)
    history_archive_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    history_archive_messages = models.PositiveIntegerField(default=0, editable=False)
    history_archive_events = models.PositiveIntegerField(default=0, editable=False)
    # The figures read from the ledger rather than the counters (people across attempts, cost
    # per channel), taken at archive time: the pages and the status keep them without the rows.
    history_figures = models.JSONField(default=dict, blank=True, editable=False)
    last_batch_at = models.DateTimeField(null=True, blank=True)
    # Set when the freeze has written the last chunk: before it, "nothing queued" means nothing.
    frozen_at = models.DateTimeField(null=True, blank=True)
    # Claims scan the queued rows from this message id (a hint, see ledger.messages_claim).
    claim_from = models.BigIntegerField(default=0, editable=False)
    # Rows are added while it runs (a journey's send step, campaigns/open_ledger.py): it never
    # completes by itself, however often its queue runs empty.
    open_ended = models.BooleanField(default=False, editable=False)

    # Denormalised counters: one per message state, plus failover and cost.
    recipients = models.PositiveIntegerField(default=0)
    count_queued = models.IntegerField(default=0)
    count_sending = models.IntegerField(default=0)
    count_accepted = models.IntegerField(default=0)
    count_delivered = models.IntegerField(default=0)
    count_undeliverable = models.IntegerField(default=0)
    count_expired = models.IntegerField(default=0)
    count_rejected = models.IntegerField(default=0)
    count_failed = models.IntegerField(default=0)
    count_skipped = models.IntegerField(default=0)
    failover_sent = models.IntegerField(default=0)
    failover_delivered = models.IntegerField(default=0)
    cost_amount = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    cost_currency = models.CharField(max_length=3, blank=True)
    # The preview's estimate, taken at launch, to compare with what Infobip charged.
    estimated_cost = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "send_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_state_display()})"

    @property
    def counts(self) -> dict[str, int]:
        """Per-state message counts from the denormalised counters."""
        return {state: getattr(self, field) for state, field in COUNTER_FIELDS.items()}

    # --- The SMS failover's old names: the chain's SMS step (INTERFACE keeps them working). ---

    def _legacy_step(self, *, create: bool = False) -> dict[str, Any]:
        steps = self.fallback if isinstance(self.fallback, list) else []
        by_channel = {s.get("channel"): s for s in steps if isinstance(s, dict)}
        step = by_channel.get(LEGACY_FAILOVER_CHANNEL)
        if step is None and create:
            step = {
                "channel": LEGACY_FAILOVER_CHANNEL,
                "text": "",
                "sender": "",
                "validity_minutes": None,
            }
            self.fallback = [*steps, step]
        return step if step is not None else {}

    def _legacy_set(self, key: str, value: object, empty: object) -> None:
        if value in (empty, None) and not self._legacy_step():
            return  # nothing to say about a step that does not exist
        self._legacy_step(create=True)[key] = value

    @property
    def failover_text(self) -> str:
        return str(self._legacy_step().get("text") or "")

    @failover_text.setter
    def failover_text(self, value: str) -> None:
        self._legacy_set("text", value or "", "")

    @property
    def failover_sender(self) -> str:
        return str(self._legacy_step().get("sender") or "")

    @failover_sender.setter
    def failover_sender(self, value: str) -> None:
        self._legacy_set("sender", value or "", "")

    @property
    def failover_validity_minutes(self) -> int | None:
        return self._legacy_step().get("validity_minutes")

    @failover_validity_minutes.setter
    def failover_validity_minutes(self, value: int | None) -> None:
        self._legacy_set("validity_minutes", value, None)


class Message(models.Model):
    """One recipient and attempt of a campaign: the ledger row that says who got what."""

    class SmsEncoding(models.TextChoices):
        GSM7 = "GSM-7", "GSM-7"
        UCS2 = "UCS-2", "UCS-2"

    # Indexed by (campaign, id) below, which serves every campaign_id lookup too.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    # Indexed by (contact, -created_at) below, which serves every contact_id lookup too.
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,
    )
    phone = models.CharField(max_length=20)
    # The medium (a channel type's `ledger`: sms, whatsapp, viber, rcs), from the registry.
    # Choices (not free text) so the admin's channel filter needs no DISTINCT over the ledger.
    channel = models.CharField(max_length=10, choices=medium_choices)
    attempt = models.PositiveSmallIntegerField(default=1)
    # Unique where set (constraint below): a failover SMS replaces one message, once, so
    # `message.failover` holds at most one row (`.get()`/`.first()`). A OneToOneField would
    # index the NULL of every other row too, in every row version. No database constraint:
    # a failover row is written with its original in one campaign and leaves with it (history,
    # campaigns/history.py), and the check would cost a trigger call per removed row.
    replaces = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="failover",
        db_index=False,
        db_constraint=False,
    )
    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    callback_data = models.CharField(max_length=200, blank=True)
    bulk_id = models.CharField(max_length=100, blank=True)

    text = models.TextField(blank=True)
    template_values = models.JSONField(null=True, blank=True)
    parts = models.PositiveSmallIntegerField(default=1)
    encoding = models.CharField(max_length=5, blank=True, choices=SmsEncoding.choices)

    state = models.CharField(max_length=13, choices=MessageState.choices)
    reason = models.CharField(max_length=500, blank=True, help_text="Why skipped or failed")
    not_before = models.DateTimeField(null=True, blank=True, help_text="Quiet hours: wait until")

    status_group = models.CharField(max_length=32, blank=True)
    status_id = models.IntegerField(null=True, blank=True)
    status_name = models.CharField(max_length=64, blank=True)
    error_group = models.CharField(max_length=32, blank=True)
    error_id = models.IntegerField(null=True, blank=True)
    error_name = models.CharField(max_length=64, blank=True)
    error_permanent = models.BooleanField(null=True, blank=True)
    price = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True)
    # Split tests: the variant (position) whose content the row carries, and its group. NULL
    # on campaigns without a split, so they cost those rows nothing.
    variant = models.PositiveSmallIntegerField(null=True, blank=True)
    split_group = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=SplitGroup.choices
    )

    class Meta:
        # No index names `state` or a column the send answer or a report writes (claimed_at,
        # accepted_at, done_at, the statuses, the price), in its keys or its predicate: both
        # updates are then HOT (heap-only: no index entry written, ~half the WAL per row) when
        # the page has room, which the fill factor (migration 0015) keeps. Readers of the state
        # go by campaign and id and filter the state from the row, and count from the
        # campaign's counters (docs/DATABASE.md, "HOT updates").
        indexes = [
            # A campaign's ledger in order: claims from the claim hint, the recipients table,
            # export, admin, the sweeper's per-campaign reads.
            models.Index(fields=["campaign", "id"]),
            models.Index(fields=["contact", "-created_at"]),
            # Segments' "delivered/messaged within N days" (campaigns/segments.py): the window's
            # originals (not failovers) by time, their state read from the row. It replaces a
            # partial index of delivered rows only, whose predicate named the state.
            models.Index(
                fields=["created_at", "contact"],
                condition=Q(replaces__isnull=True),
                name="message_original_created",
            ),
            # Rows held by quiet hours: the due ones for the claim (the claim hint has moved
            # past them) and "N wait until HH:MM" on the campaign page. The send answer clears
            # `not_before`, so only rows still held keep an entry (their answer alone is not HOT).
            models.Index(
                fields=["campaign", "not_before"],
                condition=Q(not_before__isnull=False),
                name="message_waiting",
            ),
            # A split campaign's groups (the sweep's figures of the test, every 15 s): entries
            # only for split campaigns' rows, written at the freeze; nothing updates the group,
            # so the send answer and reports stay HOT. Without it the planner may read the
            # whole ledger for one campaign's test.
            models.Index(
                fields=["campaign", "split_group"],
                condition=Q(split_group__isnull=False),
                name="message_split_group",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact", "channel", "attempt"],
                name="one_message_per_contact_channel_attempt",
            ),
            models.UniqueConstraint(
                fields=["replaces"],
                condition=Q(replaces__isnull=False),
                name="one_failover_per_message",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.phone} {self.channel} {self.state}"


class SendBatch(models.Model):
    """One claimed batch: the ledger ids a sender took, while their fate is not yet recorded.

    The claim writes this one row instead of moving every ledger row `queued → sending`: the
    rows stay `queued` until Infobip's answer moves them on (one write per message). While the
    batch is `claimed` its ids are out of every other claim, cancel and skip; the answer (or
    the settler, for a batch whose sender died) takes ids out as their fate is known, and the
    batch ends `sent`, or `released` when Infobip provably has them not (429, 5xx, the logs).
    """

    class State(models.TextChoices):
        CLAIMED = "claimed", "Claimed"
        SENT = "sent", "Sent"
        RELEASED = "released", "Released"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, db_index=False)
    # Ledger ids still in flight (a JSON list).
    ids = models.JSONField(default=list)
    claimed_at = models.DateTimeField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.CLAIMED)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [
            # Live batches: every claim, cancel and skip reads them; ended ones cost no entry.
            models.Index(
                fields=["campaign", "claimed_at"],
                condition=Q(state="claimed"),
                name="sendbatch_live",
            ),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} of campaign {self.campaign_id}: {self.state}"


class MessageEvent(models.Model):
    """One thing that happened to a message: a state change, a report, a seen receipt."""

    class Kind(models.TextChoices):
        STATE = "state", "State change"
        REPORT = "report", "Report (no state change)"
        SEEN = "seen", "Seen"

    # Indexed by (message, created_at) below, which serves every message_id lookup too. No
    # database constraint: events are written only for rows just read or updated in the same
    # transaction, and the deferred check of two events per sent message cost ~10 µs of the
    # ~75 µs of database time a sent message takes. Deleting messages still deletes their
    # events (Django cascades).
    message = models.ForeignKey(
        Message,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.STATE)
    from_state = models.CharField(max_length=13, blank=True)
    to_state = models.CharField(max_length=13, blank=True)
    status_name = models.CharField(max_length=64, blank=True)
    error_name = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["message", "created_at"])]

    def __str__(self) -> str:
        return f"{self.from_state or '-'} → {self.to_state or '-'} {self.status_name}"


class SenderThrottle(models.Model):
    """A per-sender token bucket shared by every campaign: when the sender may send next."""

    sender = models.CharField(max_length=64, unique=True)
    available_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.sender} free at {self.available_at:%H:%M:%S}"


class CampaignApproval(models.Model):
    """A second person's go-ahead for a campaign, for exactly what they saw.

    `fingerprint` is a hash of everything that decides what is sent, to whom, when and how
    (campaigns.approval.campaign_fingerprint); a launch compares it with the campaign as it is
    then, so any edit after approval, through any surface, voids the approval. Moved from the
    ui app; the table keeps its name (`ui_campaignapproval`).
    """

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="approval")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    content = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "ui_campaignapproval"

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} approved by {self.approved_by}"


class ApprovalRequest(models.Model):
    """Someone asked the approvers to check a campaign (issue 26 #13); closed by the approval.

    At most one open request per campaign: asking again while one is open changes nothing.
    """

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="approval_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=500, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign"],
                condition=Q(closed_at__isnull=True),
                name="one_open_approval_request",
            )
        ]

    def __str__(self) -> str:
        return f"approval of campaign {self.campaign_id} requested by {self.requested_by}"


class Snippet(models.Model):
    """A saved piece of message text (a signature, an opening hours line, a legal footer) that
    the wizard's message step and the inbox's reply box insert where the cursor is."""

    name = models.CharField(max_length=100, unique=True)
    text = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Segment(models.Model):
    """Saved rules over contacts and their engagement (campaigns/segments.py), with AND/OR."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    rules = models.JSONField(default=dict, help_text='{"match": "all|any", "rules": [...]}')
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# --- Split tests and holdouts (campaigns/split.py; README "Split tests and holdouts") ---------


class WinnerBy(models.TextChoices):
    CLICKS = "clicks", "Clicks"
    REPLIES = "replies", "Replies"
    CONVERSIONS = "conversions", "Conversions"
    REVENUE = "revenue", "Revenue per recipient"


def new_seed() -> str:
    """A split's seed: random, stored, so its draw can be repeated and audited."""
    return secrets.token_hex(8)


class SplitTest(models.Model):
    """A campaign's variants, test share and holdout: the draw, the winner rule and its result.

    Shares are percentages of the whole frozen audience: the variants share `test_share`
    evenly, `holdout` gets nothing, and the rest waits (campaigns.SplitRest) for the winner.
    """

    class State(models.TextChoices):
        PLANNED = "planned", "Planned (draft)"
        TESTING = "testing", "Testing: the rest waits for the winner"
        RELEASING = "releasing", "Decided: the winner is being written for the rest"
        DONE = "done", "Done"

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="split")
    test_share = models.PositiveSmallIntegerField(
        default=100, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    holdout = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(50)], help_text="Percent held out (gets nothing)"
    )
    winner_by = models.CharField(max_length=12, choices=WinnerBy.choices, default=WinnerBy.CLICKS)
    decide_after = models.DurationField(
        default=dt.timedelta(hours=4), help_text="From launch; earlier when the rule is certain"
    )
    # At the decision time with no certain winner: "leader", "none", or a variant's name.
    if_undecided = models.CharField(max_length=20, default="leader")
    seed = models.CharField(max_length=32, default=new_seed, editable=False)
    # Fixed by the first freeze so that a resumed freeze draws exactly the same groups.
    cuts = models.JSONField(null=True, blank=True, editable=False)
    plan = models.JSONField(default=dict, blank=True, editable=False)  # group sizes as drawn
    state = models.CharField(max_length=10, choices=State.choices, default=State.PLANNED)
    winner = models.PositiveSmallIntegerField(null=True, blank=True)  # a variant's position
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=200, blank=True)
    decision = models.CharField(max_length=500, blank=True, help_text="Why this winner")
    # The latest evaluation of the rule (probabilities per variant), and a short history.
    evaluation = models.JSONField(default=dict, blank=True, editable=False)
    history = models.JSONField(default=list, blank=True, editable=False)
    released_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"split of campaign {self.campaign_id}: {self.state}"


class Variant(models.Model):
    """One of a campaign's 2–4 messages in a split test."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    position = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    name = models.CharField(max_length=20)
    text = models.TextField(blank=True)
    template = models.ForeignKey(
        "whatsapp.WhatsAppTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    template_mapping = models.JSONField(default=dict, blank=True)
    coupon = models.CharField(
        max_length=64, blank=True, help_text="A code a shop may pass back with a conversion"
    )

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "position"], name="variant_position"),
            models.UniqueConstraint(fields=["campaign", "name"], name="variant_name"),
        ]
        indexes = [
            models.Index(fields=["coupon"], condition=~Q(coupon=""), name="variant_coupon"),
        ]

    def __str__(self) -> str:
        return f"variant {self.name} of campaign {self.campaign_id}"


class SplitRest(models.Model):
    """A contact of a frozen split campaign who waits for the winner (no ledger row yet).

    The release writes their ledger rows with the winner and deletes these in the same
    transaction, chunk by chunk, so each gets the winner once however often it is resumed.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, db_index=False)
    contact_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact_id"], name="split_rest_once")
        ]

    def __str__(self) -> str:
        return f"contact {self.contact_id} waits for campaign {self.campaign_id}'s winner"


class SavedTestNumber(models.Model):
    """A number a person sends campaign tests to (their own phone, a colleague's)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="herald_test_numbers"
    )
    phone = models.CharField(max_length=16)
    label = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label", "phone"]
        constraints = [
            models.UniqueConstraint(fields=["user", "phone"], name="one_saved_test_number")
        ]

    def __str__(self) -> str:
        return f"{self.label} {self.phone}".strip()


class CampaignTestSend(models.Model):
    """One test message of a campaign: to whom, who sent it, and what Infobip reported."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="test_sends")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to = models.CharField(max_length=16)
    channel = models.CharField(max_length=10)
    text = models.TextField(blank=True)
    # Our own messageId on the request, so the pushed report finds this row.
    message_id = models.UUIDField(unique=True)
    state = models.CharField(max_length=13, default="accepted")
    status_name = models.CharField(max_length=64, blank=True)
    error_name = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["campaign", "-sent_at"], name="test_send_campaign")]

    def __str__(self) -> str:
        return f"test of campaign {self.campaign_id} to {self.to}: {self.state}"
