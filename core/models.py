"""Core models: operational state shared by every app, and the audit trail."""

from django.conf import settings
from django.db import models


class WorkerHeartbeat(models.Model):
    """When a worker last ran the heartbeat beat sends to each queue (a row per worker and queue).

    The heartbeat travels the whole way work does — beat, the broker, the queue, a worker, the
    database — so a fresh row for a queue means that queue's work is being done now.
    """

    hostname = models.CharField(max_length=255)
    queue = models.CharField(max_length=64, blank=True, default="")
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(fields=["hostname", "queue"], name="core_heartbeat_once")
        ]

    def __str__(self) -> str:
        return f"{self.hostname} [{self.queue or '-'}] @ {self.last_seen:%Y-%m-%d %H:%M:%S}"


class SchedulerTick(models.Model):
    """When the beat scheduler on a host last woke up (written by beat itself, core.beat)."""

    hostname = models.CharField(max_length=255, unique=True)
    last_tick = models.DateTimeField()

    class Meta:
        ordering = ["-last_tick"]

    def __str__(self) -> str:
        return f"beat on {self.hostname} @ {self.last_tick:%Y-%m-%d %H:%M:%S}"


class AuditEntry(models.Model):
    """Who did what, and when, on any surface (written by the services, not the views).

    Moved from the ui app; the table keeps its name (`ui_auditentry`).
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The actor's name at the time: a username, "operator" (command line without --as), "system".
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, db_index=True)
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.CharField(max_length=500, blank=True)
    # What the campaign said when it was approved or launched (text, template, audience, ...).
    content = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "ui_auditentry"
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or self.actor} {self.action}"


class InfobipConnection(models.Model):
    """The last check of the Infobip connection (one row): OK, or the reason it does not work."""

    ok = models.BooleanField(default=False)
    reason = models.CharField(max_length=500, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    base_url = models.CharField(max_length=300, blank=True)
    checked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Infobip {'OK' if self.ok else self.reason} @ {self.checked_at:%H:%M:%S}"
