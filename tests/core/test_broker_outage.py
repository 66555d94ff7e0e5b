"""A worker rides out a Redis outage with tasks reserved, and takes work again when it is back.

Celery 5.7.0 ended the worker here ("Unrecoverable error: AttributeError('NoneType' object has
no attribute 'hostname')": its consumer closes the collected connection and kombu's Redis
channel, restoring the reserved countdown tasks, finds no client). Herald pins 5.6.3.
"""

import shutil
import socket
import subprocess
import time
import uuid

import pytest

from core.models import WorkerHeartbeat
from tests.fixtures.worker import WorkerProcess, wait_for

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A throwaway redis-server on loopback that the test can stop and start again."""

    def __init__(self, port: int, folder) -> None:
        self.port, self.folder, self.proc = port, folder, None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    redis = Redis(_free_port(), tmp_path)
    redis.start()
    yield redis
    redis.stop()


def test_worker_survives_a_broker_outage_with_reserved_tasks(
    integration_env, transactional_db, private_redis, tmp_path
) -> None:
    from config.celery import app
    from core.tasks import heartbeat

    url = f"redis://127.0.0.1:{private_redis.port}/0"
    worker = WorkerProcess({**integration_env, "CELERY_BROKER_URL": url}, tmp_path / "w.log")
    worker.start()
    try:
        with app.connection_for_write(url) as conn:
            # Reserved (countdown) tasks: the worker holds them unacknowledged through the outage.
            for _ in range(10):
                heartbeat.apply_async(("later",), countdown=60, connection=conn)
            heartbeat.apply_async(("before",), connection=conn)
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(queue="before").exists(),
            timeout=30,
            message=worker.tail(),
        )
        private_redis.stop()
        time.sleep(4)
        private_redis.start()
        returned = time.monotonic()
        marker = f"after-{uuid.uuid4().hex[:6]}"
        with app.connection_for_write(url) as conn:
            heartbeat.apply_async((marker,), connection=conn)
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(queue=marker).exists(),
            timeout=60,
            message=worker.tail(),
        )
        assert time.monotonic() - returned < 60
        assert worker.alive, worker.tail()
        assert "Unrecoverable error" not in worker.tail(400)
    finally:
        worker.stop()
