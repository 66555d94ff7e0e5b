"""Core models: operational state shared by every app."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """When a Celery worker last ran the beat-scheduled heartbeat (one row per worker host)."""

    hostname = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"


class InfobipConnection(models.Model):
    """The last check of the Infobip connection (one row): OK, or the reason it does not work."""

    ok = models.BooleanField(default=False)
    reason = models.CharField(max_length=500, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    base_url = models.CharField(max_length=300, blank=True)
    checked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Infobip {'OK' if self.ok else self.reason} @ {self.checked_at:%H:%M:%S}"
