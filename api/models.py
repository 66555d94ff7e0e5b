"""API tokens, idempotent requests, and outbound event subscriptions with their deliveries.

Tokens are stored as a SHA-256 of the secret (the secret is shown once); a request carries the
secret and is looked up by its hash. Outbound events: one `EventDelivery` per event and
subscription (unique, so an emission repeated by a retried push is stored once) and one
`DeliveryAttempt` per HTTP try.
"""

from django.conf import settings
from django.db import models


class Scope(models.TextChoices):
    READ = "read", "Read everything"
    CONTACTS_WRITE = "contacts:write", "Create, change and delete contacts and lists"
    CAMPAIGNS_WRITE = "campaigns:write", "Create and change draft campaigns"
    CAMPAIGNS_SEND = "campaigns:send", "Launch, pause, resume and cancel campaigns"
    MESSAGES_SEND = "messages:send", "Send transactional messages"
    EVENTS_MANAGE = "events:manage", "Manage outbound event subscriptions"
    JOURNEYS_WRITE = "journeys:write", "Create, change, activate, pause and archive journeys"
    EVENTS_WRITE = "events:write", "Record what contacts did (events that drive journeys)"


class ApiToken(models.Model):
    """A per-user bearer token with scopes; only its hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    # The first characters of the secret, so people can tell their tokens apart.
    prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class IdempotentRequest(models.Model):
    """The answer to one `Idempotency-Key`: the same key and body get the same answer again."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    body_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(default=0)
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="api_idempotency_once")
        ]

    def __str__(self) -> str:
        return self.key


class EventType(models.TextChoices):
    MESSAGE_FINAL = "message.final", "A message reached its final state"
    INBOUND_RECEIVED = "inbound.received", "An inbound SMS or WhatsApp message arrived"
    CONTACT_OPTED_OUT = "contact.opted_out", "A contact opted out"
    CONTACT_OPTED_IN = "contact.opted_in", "A contact opted back in"
    CAMPAIGN_STATE_CHANGED = "campaign.state_changed", "A campaign changed state"
    LINK_CLICKED = "link.clicked", "A tracked link was clicked"
    CAMPAIGN_APPROVAL_REQUESTED = (
        "campaign.approval_requested",
        "Someone asked for a campaign's approval",
    )
    JOURNEY_ENTERED = "journey.entered", "A contact entered a journey"
    JOURNEY_EXITED = "journey.exited", "A contact left a journey"
    JOURNEY_NOTIFY = "journey.notify", "A journey's notify step was taken"


class EventSubscription(models.Model):
    """Where to POST which events (with optional number/keyword filters for inbound)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="event_subscriptions",
    )
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    filter_number = models.CharField(
        max_length=32, blank=True, help_text="inbound.received: only messages to this number"
    )
    filter_keyword = models.CharField(
        max_length=64,
        blank=True,
        help_text="inbound.received: only messages whose first word is this",
    )
    secret = models.CharField(max_length=100, editable=False)
    enabled = models.BooleanField(default=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    # One deliverer at a time per subscription (events go out in order): a lease, not a lock
    # held across HTTP calls (that would keep a transaction open for as long as a slow
    # receiver takes).
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"


class EventDelivery(models.Model):
    """One event for one subscription, delivered (at least once) in id order."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        GAVE_UP = "gave_up", "Gave up (subscription disabled)"

    subscription = models.ForeignKey(
        EventSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    # The Standard Webhooks `webhook-id`: the same on every attempt, so receivers can dedupe.
    # Empty for `message.final` rows, whose id is made from the message (`delivery_webhook_id`).
    # NULL rather than "" (here and in dedupe_key): the unique indexes are partial on NOT NULL,
    # so message.final rows add no entry to them.
    webhook_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # What the event is about (e.g. "message:<uuid>"): an emission repeated is stored once.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    # `message.final`: the ledger row (campaigns.Message pk) the event is about; the row is the
    # dedupe key and the body is built from it when sent (see api.emit). No foreign key: the
    # report path inserts these by the hundred thousand and must not pay for the check.
    message = models.BigIntegerField(null=True, blank=True)
    # The event's data; None for `message.final` rows (built from the ledger row when sent).
    payload = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        # Few, narrow, partial indexes: a report storm inserts one row per final message inside
        # the report's transaction, and each delivered row is a non-HOT update (state moves).
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "dedupe_key"],
                condition=models.Q(dedupe_key__isnull=False),
                name="api_delivery_once_per_event",
            ),
            models.UniqueConstraint(
                fields=["subscription", "message"],
                condition=models.Q(message__isnull=False),
                name="api_delivery_once_per_message",
            ),
            models.UniqueConstraint(
                fields=["webhook_id"],
                condition=models.Q(webhook_id__isnull=False),
                name="api_delivery_webhook_id_unique",
            ),
        ]
        indexes = [
            # The deliverer's queue (and the beat's due scan): pending rows only.
            models.Index(
                fields=["subscription", "id"],
                condition=models.Q(state="pending"),
                name="api_delivery_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.subscription_id} ({self.state})"


class DeliveryAttempt(models.Model):
    """One HTTP try of a delivery: what the receiver answered, and how fast."""

    delivery = models.ForeignKey(EventDelivery, on_delete=models.CASCADE, related_name="tries")
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} in {self.latency_ms} ms"


class TransactionalSend(models.Model):
    """A `POST /api/v1/messages` call: its ledger lives in a campaign of its own."""

    campaign = models.OneToOneField(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="transactional"
    )
    token = models.ForeignKey(ApiToken, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"API send {self.campaign_id}"
