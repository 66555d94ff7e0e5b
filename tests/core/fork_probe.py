"""Loaded into a test worker with `celery -I`: each pool child writes what its GC holds frozen."""

import gc
import os
from pathlib import Path
from typing import Any

from celery import signals


@signals.worker_process_init.connect
def _report_frozen(**kwargs: Any) -> None:
    """Write this child's gc.get_freeze_count() to $HERALD_FORK_PROBE_DIR/<pid>."""
    folder = os.environ.get("HERALD_FORK_PROBE_DIR")
    if folder:
        # Written aside and renamed: the test reads every `<pid>` file it sees, and one created
        # but not yet written read as '' (a failure by chance, seen under load).
        part = Path(folder) / f".{os.getpid()}.part"
        part.write_text(str(gc.get_freeze_count()))
        os.replace(part, Path(folder) / str(os.getpid()))
