"""Conversions (orders a shop reports) and the credit each gets under a versioned rule.

A conversion is stored once per `order_id` (a unique constraint: a repeated post changes
nothing). Its credit names the touch that earned it — a message of a campaign (and variant),
a transactional message or, once journeys send, a journey's — or says why there is none, and
keeps the rule version that decided it (conversions/rule.py), so changing the windows applies
forward and a recomputation under another rule is shown beside the stored one, never over it.
"""

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone


class AttributionRule(models.Model):
    """One version of the attribution rule: the windows of each touch kind."""

    click_window = models.DurationField()
    reply_window = models.DurationField()
    delivery_window = models.DurationField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["click_window", "reply_window", "delivery_window"], name="rule_windows"
            )
        ]

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """`r2: token > coupon > click 5 d > reply 14 d > delivery 24 h, latest …`."""
        return (
            f"r{self.pk}: token > coupon > click {_short(self.click_window)}"
            f" > reply {_short(self.reply_window)} > delivery {_short(self.delivery_window)},"
            " latest touch within the best kind"
        )


def _short(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


class Conversion(models.Model):
    """An order (or any goal with a value) a contact completed, as the shop reported it."""

    class Source(models.TextChoices):
        API = "api", "API"
        COMMAND = "command", "Command line"
        ADMIN = "admin", "Admin"

    order_id = models.CharField(max_length=200, unique=True)
    # Indexed with the time below (lift and "this contact's conversions").
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversions",
        db_index=False,
    )
    phone = models.CharField(max_length=20, blank=True)
    value = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    currency = models.CharField(max_length=3, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    token = models.CharField(max_length=80, blank=True, help_text="A tracked link's token")
    coupon = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)
    # Forwarded to Infobip's conversion tracking (HERALD_INFOBIP_CONVERSIONS, SMS credits only):
    # when Infobip took it, or why it was not (the last failure; retried ones are retried).
    forwarded_at = models.DateTimeField(null=True, blank=True)
    forward_error = models.CharField(max_length=300, blank=True, db_default="")

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "occurred_at"], name="conversion_contact_time"),
            models.Index(fields=["occurred_at"], name="conversion_time"),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id}"


class Touch(models.TextChoices):
    TOKEN = "token", "Tracked link's token"
    COUPON = "coupon", "Variant's coupon code"
    CLICK = "click", "Click"
    REPLY = "reply", "Reply"
    DELIVERED = "delivered", "Delivery"


class Credit(models.Model):
    """The credit a conversion got under one rule version: the message, or why none."""

    conversion = models.ForeignKey(Conversion, on_delete=models.CASCADE, related_name="credits")
    rule = models.ForeignKey(AttributionRule, on_delete=models.PROTECT, related_name="credits")
    # The one made when the conversion arrived (recomputations are shown, not stored over it).
    current = models.BooleanField(default=True)
    # No database constraint: an archived campaign's ledger rows leave the live table in one
    # DELETE (campaigns/history.py) while its credits stay, by campaign and message id.
    message = models.ForeignKey(
        "campaigns.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    variant = models.PositiveSmallIntegerField(null=True, blank=True)
    touch = models.CharField(max_length=10, choices=Touch.choices, blank=True)
    touch_at = models.DateTimeField(null=True, blank=True)
    # A holdout the contact was in at the time (counted for lift, credited to no message).
    holdout_campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["conversion", "rule"], name="credit_once_per_rule"),
            models.UniqueConstraint(
                fields=["conversion"], condition=Q(current=True), name="credit_one_current"
            ),
        ]
        indexes = [
            # A campaign's (and its variants') conversions and revenue.
            models.Index(
                fields=["campaign", "variant"], condition=Q(current=True), name="credit_campaign"
            ),
        ]

    def __str__(self) -> str:
        return f"credit of {self.conversion_id}: {self.touch or 'none'}"
