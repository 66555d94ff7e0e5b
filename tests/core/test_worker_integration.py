"""The foundation's promise: a task enqueued on commit runs in a real worker on PostgreSQL."""

import pytest
from django.db import transaction

from core.models import WorkerHeartbeat
from core.tasks import heartbeat
from tests.fixtures.worker import wait_for

pytestmark = pytest.mark.integration


def test_task_runs_in_real_worker_against_postgres(celery_worker) -> None:
    assert not WorkerHeartbeat.objects.exists()
    with transaction.atomic():
        transaction.on_commit(lambda: heartbeat.apply_async(("sending",), queue="sending"))

    row = wait_for(
        lambda: WorkerHeartbeat.objects.first(),
        message=f"worker never wrote its heartbeat:\n{celery_worker.tail()}",
    )
    assert row.hostname
    assert row.queue == "sending"  # the worker without -Q takes every queue
    from core.services import worker_is_alive

    assert worker_is_alive()


def test_killed_worker_can_be_restarted(celery_worker) -> None:
    celery_worker.kill()
    assert not celery_worker.alive
    celery_worker.start()
    heartbeat.delay()
    wait_for(lambda: WorkerHeartbeat.objects.exists(), message=celery_worker.tail())
