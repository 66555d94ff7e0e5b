"""What Infobip pushes to Herald, kept durably before anything is done with it.

`WebhookEvent` is the raw store: one row per push (and per pulled page of reports), written
before the 200 is answered, processed later by Celery. Everything derived from it (ledger
updates, inbound messages, clicks) can be rebuilt by reprocessing, because processing is
idempotent. `PendingReport` keeps reports whose messageId Herald does not know yet;
`ReportHealth` records, per sweeper run, whether reports are still arriving.
"""

from django.db import models
from django.utils import timezone


class EventKind(models.TextChoices):
    SMS_REPORTS = "sms_reports", "SMS reports (push)"
    SMS_INBOUND = "sms_inbound", "SMS inbound (push)"
    WHATSAPP_REPORTS = "whatsapp_reports", "WhatsApp reports (push)"
    WHATSAPP_INBOUND = "whatsapp_inbound", "WhatsApp inbound (push)"
    # The Messages API's shapes (Viber, RCS and its other channels), one URL each.
    MESSAGES_REPORTS = "messages_reports", "Messages API reports (push)"
    MESSAGES_INBOUND = "messages_inbound", "Messages API inbound (push)"
    CLICKS = "clicks", "Clicks (push)"
    PULL_SMS = "pull_sms", "SMS reports (pulled)"
    PULL_WHATSAPP = "pull_whatsapp", "WhatsApp reports (pulled)"
    PULL_MESSAGES = "pull_messages", "Messages API reports (pulled)"


PUSHED_REPORT_KINDS = frozenset(
    {EventKind.SMS_REPORTS, EventKind.WHATSAPP_REPORTS, EventKind.MESSAGES_REPORTS}
)
REPORT_KINDS = PUSHED_REPORT_KINDS | {
    EventKind.PULL_SMS,
    EventKind.PULL_WHATSAPP,
    EventKind.PULL_MESSAGES,
}
INBOUND_KINDS = frozenset(
    {EventKind.SMS_INBOUND, EventKind.WHATSAPP_INBOUND, EventKind.MESSAGES_INBOUND}
)


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received, not processed yet"
    PROCESSED = "processed", "Processed"
    DUPLICATE = "duplicate", "Duplicate (same content already processed)"
    FAILED = "failed", "Processing failed"


class WebhookEvent(models.Model):
    """One push from Infobip (or one pulled page of reports), stored exactly as received."""

    kind = models.CharField(max_length=20, choices=EventKind.choices)
    received_at = models.DateTimeField(default=timezone.now)
    # The body as received (UTF-8 JSON text): exact, and free of jsonb's NUL restrictions.
    body = models.TextField()
    content_hash = models.CharField(max_length=64, db_index=True, help_text="sha256 of the body")
    items = models.PositiveIntegerField(default=0, help_text="Entries in `results`")
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=EventStatus.choices, default=EventStatus.RECEIVED
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["kind", "received_at"], name="infobip_event_kind_idx"),
            models.Index(fields=["status", "received_at"], name="infobip_event_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"


class PendingReport(models.Model):
    """A report (or seen receipt) for a messageId the ledger does not know: retried, then flagged.

    The report itself stays in its event's body (`event`, `index`), so nothing is copied.
    """

    class Kind(models.TextChoices):
        REPORT = "report", "Delivery report"
        SEEN = "seen", "Seen report"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="pending")
    index = models.PositiveIntegerField(help_text="Position in the event's `results`")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REPORT)
    message_id = models.CharField(max_length=200, db_index=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    flagged = models.BooleanField(default=False, help_text="Retried long enough: needs a look")
    flagged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-first_seen_at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "index"], name="infobip_pending_once")
        ]
        indexes = [
            models.Index(fields=["flagged", "next_attempt_at"], name="infobip_pending_due_idx")
        ]

    def __str__(self) -> str:
        return f"{self.kind} for unknown {self.message_id}"


class KeywordAction(models.TextChoices):
    NONE = "", "None"
    OPT_OUT = "opt_out", "Opt-out"
    OPT_IN = "opt_in", "Opt-in"
    HELP = "help", "Help"
    JOURNEY = "journey", "Journey keyword"


class ReplyStatus(models.TextChoices):
    NONE = "", "No reply"
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Outcome unknown (not re-sent)"


class InboundMessage(models.Model):
    """A message a person sent to one of Herald's numbers (SMS or WhatsApp, any type)."""

    # The medium it came on (sms, whatsapp, viber, rcs: the channel registry's `ledger`, which
    # the inbox maps Infobip's channel names to). No choices here: infobip/ knows Infobip's
    # channels, not Herald's; the pages and the admin label it from the registry.
    channel = models.CharField(max_length=16)
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_messages",
    )
    event = models.ForeignKey(
        WebhookEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound"
    )
    infobip_message_id = models.CharField(max_length=200, unique=True)
    from_number = models.CharField(max_length=150)
    to_number = models.CharField(max_length=64, blank=True)
    message_type = models.CharField(max_length=64, default="TEXT")
    text = models.TextField(blank=True)
    clean_text = models.TextField(blank=True)
    keyword = models.CharField(max_length=64, blank=True, help_text="Infobip's matched keyword")
    media_url = models.URLField(max_length=2048, blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="The message as received")
    received_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    keyword_action = models.CharField(
        max_length=10, choices=KeywordAction.choices, blank=True, default=KeywordAction.NONE
    )
    handled_at = models.DateTimeField(null=True, blank=True, help_text="Keyword rules applied")
    reply_text = models.TextField(blank=True)
    reply_status = models.CharField(
        max_length=10, choices=ReplyStatus.choices, blank=True, default=ReplyStatus.NONE
    )
    reply_message_id = models.CharField(max_length=200, blank=True)
    reply_sent_at = models.DateTimeField(null=True, blank=True)
    reply_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-received_at"], name="infobip_inbound_contact_idx"),
            models.Index(fields=["-received_at"], name="infobip_inbound_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} from {self.from_number}: {self.text[:40]}"


class Click(models.Model):
    """One URL click notification (Infobip's URL tracking), linked to its message and campaign."""

    event = models.ForeignKey(
        WebhookEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="clicks"
    )
    index = models.PositiveIntegerField(default=0)
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # No database constraint: a campaign's archived history (campaigns/history.py) removes
    # its ledger rows in one statement, which the constraint would check row by row. The
    # click keeps the row's id (distinct clicked messages still count, and a restore brings
    # the same ids back); the ORM's SET_NULL still applies to an ORM delete.
    message = models.ForeignKey(
        "campaigns.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    # The message's contact, copied when the click is stored: attribution finds a contact's
    # clicks with one probe of the index below instead of one per ledger row of the contact
    # (conversions/attribution.py). No database constraint, like `message`; the ORM's
    # SET_NULL applies when a contact is deleted (erasure), as it does to the ledger row.
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    infobip_message_id = models.CharField(max_length=200, blank=True)
    url = models.TextField(blank=True)
    recipient = models.CharField(max_length=64, blank=True)
    clicked_at = models.DateTimeField(help_text="When Herald received the notification")
    sent_at = models.DateTimeField(null=True, blank=True)
    device_type = models.CharField(max_length=64, blank=True)
    os = models.CharField(max_length=64, blank=True)
    device_name = models.CharField(max_length=64, blank=True)
    country = models.CharField(max_length=64, blank=True)
    city = models.CharField(max_length=64, blank=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-clicked_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "index"], name="infobip_click_once")
        ]
        indexes = [
            models.Index(fields=["campaign", "clicked_at"], name="infobip_click_camp_idx"),
            models.Index(fields=["contact", "-clicked_at"], name="infobip_click_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"click on {self.url[:60]}"


class ReportHealth(models.Model):
    """One sweeper run's view of report flow: when pushes last came, what is still missing."""

    measured_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_report_push_at = models.DateTimeField(null=True, blank=True)
    last_inbound_push_at = models.DateTimeField(null=True, blank=True)
    missing_reports = models.PositiveIntegerField(
        default=0, help_text="Accepted messages sent longer ago than the lag threshold"
    )
    oldest_missing_at = models.DateTimeField(null=True, blank=True)
    lag_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds since the last report push, while some are due"
    )
    pulled = models.PositiveIntegerField(default=0)
    settled = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0)
    backlog = models.PositiveIntegerField(default=0, help_text="Stored events not processed yet")
    failed_events = models.PositiveIntegerField(default=0)
    pending_unknown = models.PositiveIntegerField(default=0)
    flagged_unknown = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-measured_at"]
        verbose_name_plural = "report health"

    def __str__(self) -> str:
        return f"{self.measured_at:%Y-%m-%d %H:%M} missing={self.missing_reports}"
