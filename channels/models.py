"""Senders per destination country: who a message comes from, and the regional ids it carries.

A row says: on this medium (`sms`, `whatsapp`, `viber`, `rcs`), messages to this country (ISO
code, or `*` for any country without a row of its own) come from this sender. SMS rows also
hold the regional ids some countries require of the sender (India's DLT principal entity,
Turkey's IYS brand code, South Korea's reseller code). RapidPro's Channel (an address with a
country) is the anchor; channels/senders.py has the services and the per-batch resolver.
"""

from django.db import models

from channels.registry import medium_choices

ANY_COUNTRY = "*"


class Sender(models.Model):
    """The sender of one medium for one destination country (or `*`)."""

    # The medium (a channel type's `ledger`), so both WhatsApp types share their numbers.
    medium = models.CharField(max_length=16, choices=medium_choices)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 code, or * for any country")
    sender = models.CharField(max_length=64, help_text="A number or an alphanumeric name")
    # India's DLT (options.regional.indiaDlt): the principal entity registered for this sender,
    # and the telemarketer id when sending through an aggregator.
    dlt_entity_id = models.CharField("DLT principal entity id", max_length=64, blank=True)
    dlt_telemarketer_id = models.CharField("DLT telemarketer id", max_length=64, blank=True)
    # Turkey's IYS brand code (blank: the Infobip account's default) and South Korea's reseller
    # code (9 digits, for resellers).
    iys_brand_code = models.PositiveIntegerField("IYS brand code", null=True, blank=True)
    kr_reseller_code = models.PositiveIntegerField("Korean reseller code", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["medium", "country"]
        constraints = [
            models.UniqueConstraint(fields=["medium", "country"], name="one_sender_per_country")
        ]

    def __str__(self) -> str:
        return f"{self.medium} {self.country}: {self.sender}"
