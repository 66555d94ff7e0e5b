"""Worker memory: the prefork parent freezes its heap so the pool children keep sharing it."""

import gc
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import signals

from tests.fixtures import worker as worker_fixtures

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def unfrozen():
    """Start and end with nothing frozen, so the test process's own GC is left as it was."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_signal_before_each_fork_freezes_the_parents_heap(unfrozen) -> None:
    assert gc.get_freeze_count() == 0
    signals.worker_before_create_process.send(sender=None)
    # Everything the GC tracks (Django, the apps, the test runner) is now frozen.
    assert gc.get_freeze_count() > 10_000


def test_freezing_leaves_the_gc_running_for_new_objects(unfrozen) -> None:
    signals.worker_before_create_process.send(sender=None)
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    cycle: list = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1  # a cycle made after the freeze is still collected
    # Collecting froze nothing new. Not `==`: the collection may free garbage that held the
    # last reference to a frozen object, which leaves the permanent generation (the full unit
    # run did this by chance, 639,702 → 639,699).
    assert gc.get_freeze_count() <= frozen


@pytest.mark.integration
def test_real_prefork_children_start_with_the_parents_heap_frozen(tmp_path: Path) -> None:
    worker_fixtures.require_real_engines()
    env = {
        **os.environ,
        "DATABASE_URL": worker_fixtures.test_database_url(),
        "HERALD_READ_DOTENV": "false",
        "HERALD_FORK_PROBE_DIR": str(tmp_path),
    }
    celery = str(Path(sys.executable).with_name("celery"))
    log = (tmp_path / "worker.log").open("ab")
    proc = subprocess.Popen(
        [
            celery,
            "-A",
            "config",
            "worker",
            "-l",
            "warning",
            "-c",
            "2",
            "-P",
            "prefork",
            "-I",
            "tests.core.fork_probe",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"test-freeze-{uuid.uuid4().hex[:8]}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(reports := list(tmp_path.glob("[0-9]*"))) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
        counts = [int(p.read_text()) for p in reports]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert len(counts) == 2, (tmp_path / "worker.log").read_text()
    # Both children inherited a frozen heap: the parent's Django, apps and tasks.
    assert all(count > 10_000 for count in counts), counts
