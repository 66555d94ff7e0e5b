"""The marketer UI's own records: contact import jobs.

The audit trail moved to core (`core.models.AuditEntry`) and approvals to campaigns
(`campaigns.models.CampaignApproval`), so the services that decide write them; both are
re-exported here for older imports, as are the conversations' records, which moved to inbox
(`inbox.models`) with the reply service, so the API and commands can send replies too. The
custom permissions keep their public names (`ui.launch_campaign`: launch, schedule, pause,
resume, cancel, resend; `ui.approve_campaign`; `ui.reply_inbound`) and now hang on ImportJob.
"""

from django.conf import settings
from django.db import models

from campaigns.models import CampaignApproval
from core.models import AuditEntry
from inbox.models import ConversationReply, ConversationState

__all__ = ["AuditEntry", "CampaignApproval", "ConversationReply", "ConversationState", "ImportJob"]


class ImportJob(models.Model):
    """One uploaded contacts CSV and the progress of its import (run by a Celery task)."""

    class Status(models.TextChoices):
        MAPPING = "mapping", "Waiting for the column mapping"
        PENDING = "pending", "Waiting for the worker"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    file = models.FileField(upload_to="imports/")
    original_name = models.CharField(max_length=255, blank=True)
    list_name = models.CharField(max_length=200, blank=True)
    default_region = models.CharField(max_length=2, blank=True)
    allow_sequential = models.BooleanField(
        default=False,
        help_text="Accept runs of consecutive numbers (import_contacts --allow-sequential)",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # The column mapping confirmed in the mapping step (contacts/mapping.py), and the
    # encoding the file was read in.
    mapping = models.JSONField(default=dict, blank=True)
    encoding = models.CharField(max_length=20, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    errors_file = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("launch_campaign", "Can launch, schedule, pause, resume, cancel and resend campaigns"),
            ("approve_campaign", "Can approve a campaign someone else created"),
            ("reply_inbound", "Can reply to inbound WhatsApp messages"),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, int(self.processed * 100 / self.total)) if self.total else 0


class UserPreference(models.Model):
    """A person's own settings for the pages: the time zone every time is shown and typed in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="herald_preference"
    )
    time_zone = models.CharField(max_length=64, blank=True, help_text="Blank: the browser's")

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"
