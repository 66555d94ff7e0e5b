""" "At most once per …" and "at most N per …" on the shared cache, for every process at once.

Both use only the cache's atomic operations (add, incr), so they hold across gunicorn's
workers and threads and the Celery workers — with the shared cache of config/settings.py
(Redis in production, the database cache in `make run`). When the cache is unreachable (a Redis
outage) they fail open and say so in the log: a wake-up that happens twice or a request not
counted costs less than refusing work while the outage lasts.
"""

import contextlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)


def once_per(key: str, seconds: float) -> bool:
    """True for the first caller in each `seconds` window for `key` (any process), else False."""
    try:
        return bool(cache.add(f"once:{key}", 1, timeout=seconds))
    except Exception as exc:
        logger.warning("shared cache unavailable (%s): %s not limited this time", exc, key)
        return True


def once_release(key: str) -> None:
    """Let the next `once_per(key, …)` caller through now (a wake-up's task took its work)."""
    try:
        cache.delete(f"once:{key}")
    except Exception as exc:
        logger.warning("shared cache unavailable (%s): %s expires by itself", exc, key)


def wake_once(key: str, seconds: float, task: Any, *args: object, inline: bool = False) -> bool:
    """Queue `task(*args)` unless a wake-up under `key` is queued; True when this call queued it.

    The task releases the key (`once_release`) when it starts, so work that arrives after it
    started wakes it again. `inline`: tasks run eagerly (the unit tests), so every wake-up runs
    at once; nothing queued could take it later.
    """
    if not inline and not once_per(key, seconds):
        return False
    task.delay(*args)
    return True


@dataclass(frozen=True)
class RateDecision:
    """Whether a call is allowed, and if not, in how many seconds it may be tried again."""

    allowed: bool
    retry_after: int = 0


def rate_take(*, key: str, limit: int, period: int, now: float | None = None) -> RateDecision:
    """Count one call against `limit` per `period` seconds for `key` (sliding window).

    Two fixed windows, the previous one weighted by how much of it the sliding window still
    covers (an estimate of the exact log that needs one counter per window instead of one
    entry per call); each window's counter is one atomic INCR. A refused call is not counted.
    """
    now = time.time() if now is None else now
    window = int(now // period)
    current, previous = f"rate:{key}:{window}", f"rate:{key}:{window - 1}"
    try:
        cache.add(current, 0, timeout=2 * period)
        count = cache.incr(current)
        before = cache.get(previous) or 0
    except Exception as exc:
        logger.warning("shared cache unavailable (%s): rate %s not counted", exc, key)
        return RateDecision(True)
    elapsed = now - window * period
    weight = (period - elapsed) / period
    if before * weight + count <= limit:
        return RateDecision(True)
    with contextlib.suppress(Exception):  # the counter expired or vanished: nothing to undo
        cache.decr(current)
    if count > limit or before == 0:
        wait = period - elapsed  # this window alone is full: the next one
    else:
        # The previous window's share shrinks as time passes: wait until one call fits.
        wait = (before * weight + count - limit) * period / before
    return RateDecision(False, max(1, math.ceil(wait)))
