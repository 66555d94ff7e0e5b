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
