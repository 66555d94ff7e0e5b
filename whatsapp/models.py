"""WhatsApp templates as Infobip (Meta) approved them, one row per (sender, name, language)."""

from typing import Any

from django.db import models

APPROVED = "APPROVED"

# Why a template with this Infobip status cannot be sent; anything unknown is refused too.
STATUS_REASONS = {
    "PENDING": "is PENDING Meta's review",
    "IN_APPEAL": "is IN_APPEAL (rejected, the appeal is pending)",
    "REJECTED": "was REJECTED by Meta",
    "PENDING_DELETION": "is PENDING_DELETION on Infobip",
    "DELETED": "was DELETED on Infobip",
    "REINSTATED": "is REINSTATED but not APPROVED yet (sync again once Meta approves it)",
    "FLAGGED": "is FLAGGED for low quality on Infobip",
    "FIRST_PAUSED": "is PAUSED on Infobip (Meta paused it for low quality, first pause)",
    "SECOND_PAUSED": "is PAUSED on Infobip (Meta paused it for low quality, second pause)",
    "DISABLED": "is DISABLED on Infobip (Meta disabled it for low quality)",
}


class WhatsAppTemplate(models.Model):
    """A template as the last sync (or template-update push) saw it; never deleted by a sync."""

    sender = models.CharField(max_length=24)
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=16)
    infobip_id = models.CharField(max_length=64, blank=True)
    # Infobip's raw status (APPROVED, PENDING, REJECTED, FIRST_PAUSED, DISABLED, …).
    status = models.CharField(max_length=32)
    status_reason = models.CharField(max_length=64, blank=True)
    category = models.CharField(max_length=32, blank=True)
    quality = models.CharField(max_length=16, blank=True)
    structure = models.JSONField(default=dict, blank=True)
    body_text = models.TextField(blank=True)
    header_format = models.CharField(max_length=16, blank=True)
    # {"header": 0|1, "body": N, "buttons": [{"index": i, "type": "URL", "placeholders": 1}],
    #  "tokens": {"header": ["1"], "body": ["1", "2"]}} — see whatsapp.structure.
    placeholders = models.JSONField(default=dict, blank=True)
    placeholder_warning = models.CharField(max_length=500, blank=True)
    supported = models.BooleanField(default=True)
    unsupported_reason = models.CharField(max_length=500, blank=True)
    removed_upstream_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sender", "name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "name", "language"], name="whatsapp_template_unique_key"
            )
        ]
        indexes = [
            models.Index(fields=["status"], name="whatsapp_tpl_status"),
            models.Index(fields=["language"], name="whatsapp_tpl_language"),
            models.Index(fields=["category"], name="whatsapp_tpl_category"),
        ]
        verbose_name = "WhatsApp template"
        permissions = [("sync_whatsapptemplate", "Can sync WhatsApp templates from Infobip")]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    @property
    def label(self) -> str:
        return f"template '{self.name}' ({self.language})"

    @property
    def is_sendable(self) -> bool:
        """Only an APPROVED, supported template that still exists on Infobip can be sent."""
        return self.unsendable_reason is None

    @property
    def unsendable_reason(self) -> str | None:
        """Why this template cannot be sent now, for people; None when it can."""
        if self.removed_upstream_at is not None:
            return f"{self.label} no longer exists on Infobip (missing from the last sync)"
        if not self.supported:
            return f"{self.label} is not supported by Herald: {self.unsupported_reason}"
        if self.status == APPROVED:
            return None
        why = STATUS_REASONS.get(self.status)
        if why is None:
            why = f"has status {self.status or '(none)'} on Infobip; only APPROVED can be sent"
        if self.status_reason and self.status_reason not in {"NONE", "UNKNOWN"}:
            why += f" (reason: {self.status_reason})"
        return f"{self.label} {why}"

    @property
    def body_placeholder_count(self) -> int:
        return int((self.placeholders or {}).get("body") or 0)

    @property
    def header_placeholder_count(self) -> int:
        return int((self.placeholders or {}).get("header") or 0)

    @property
    def value_buttons(self) -> list[dict[str, Any]]:
        """Buttons that appear in templateData, in template order (see whatsapp.structure)."""
        return list((self.placeholders or {}).get("buttons") or [])

    def tokens(self, where: str) -> list[str]:
        """Placeholder names of the header or body, in the order their values are sent."""
        tokens = ((self.placeholders or {}).get("tokens") or {}).get(where)
        if tokens:
            return list(tokens)
        count = self.body_placeholder_count if where == "body" else self.header_placeholder_count
        return [str(i) for i in range(1, count + 1)]
