"""Core tasks."""

import socket

from celery import shared_task
from celery.signals import worker_ready

from core.services import worker_heartbeat_record


@shared_task(name="core.tasks.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Record this worker's liveness so pages can warn when no worker runs."""
    worker_heartbeat_record(hostname=socket.gethostname())


@shared_task(name="core.tasks.check_infobip_connection", ignore_result=True)
def check_infobip_connection() -> None:
    """Check the Infobip connection and record it (worker start, then every few minutes)."""
    from core.services import infobip_connection_check

    infobip_connection_check()


@worker_ready.connect
def _check_infobip_on_start(**_kwargs) -> None:
    # Queued rather than run here: a slow or unreachable Infobip must not delay the worker.
    check_infobip_connection.delay()
