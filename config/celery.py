"""The Celery application: configured from Django settings (CELERY_* names)."""

import gc
import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("herald")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_before_create_process.connect(dispatch_uid="herald.freeze_heap_before_fork")
def freeze_heap_before_fork(**kwargs: Any) -> None:
    """Move every object of the prefork parent into the GC's permanent generation before a fork."""
    # A pool child inherits the parent's heap (Django, DRF, the models, the URLconf) copy-on-
    # write. Each full collection in the child writes into the GC header of every tracked
    # object, so the child ends up with a private copy of nearly every page it shares: frozen
    # objects are never traversed and those pages stay shared. Not gc.collect() first: the
    # holes it leaves in shared pages would be filled by the child's allocations (Python's
    # gc.freeze() docs). Runs again before each replacement child, which is just as true then;
    # frozen objects are never collected, but the parent only freezes again when a child dies
    # (no worker_max_tasks_per_child here), so what it could keep that way stays small.
    gc.freeze()
