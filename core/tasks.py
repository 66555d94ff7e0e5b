"""Core tasks."""

from celery import Task, shared_task

from core.services import worker_heartbeat_record


@shared_task(name="core.tasks.heartbeat", bind=True, ignore_result=True)
def heartbeat(self: Task, queue: str = "") -> None:
    """Record that this worker runs the work of `queue` (beat sends one to every queue)."""
    worker_heartbeat_record(hostname=self.request.hostname or "", queue=queue)
