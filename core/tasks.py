"""Core tasks."""

import socket

from celery import shared_task

from core.services import worker_heartbeat_record


@shared_task(name="core.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Record this worker's liveness so pages can warn when no worker runs."""
    worker_heartbeat_record(hostname=socket.gethostname())
