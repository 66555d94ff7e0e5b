"""Enqueueing after commit that survives a broker outage: the work waits for its sweep.

What a request commits (a ledger, a launch) is the record; the task that starts working on it
is a wake-up. When the broker is down the wake-up is lost, not the work: the caller's answer
stands (202: it is in the ledger), and the sweep that restarts stalled work picks it up once
the broker is back (campaigns.tasks.sweep for campaigns). Django's `robust=True` would do the
same on commit, but not under the test client's captured callbacks; this says what was lost.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(enqueue: Callable[[], Any], *, what: str) -> None:
    """Run `enqueue` after commit; if it fails (broker down), log it and carry on."""

    def run() -> None:
        try:
            enqueue()
        except Exception as exc:
            logger.warning("%s: not enqueued now (%s); its sweep picks it up", what, exc)

    transaction.on_commit(run)
