"""One processing task on its way per burst of pushes (Redis broker), not one per push.

Enqueueing a Celery task was a third of a webhook request's time. A push stores its event and
then asks for a wake-up: only a push that finds none pending (Redis `SET NX`) enqueues the
processing task, which clears the flag before it reads the waiting events — so an event stored
after that read always finds the flag clear and enqueues another task, and nothing waits for
the backlog beat. A flag whose task was lost (a killed worker) expires after `TTL` seconds.
Without Redis (the filesystem broker of development) every push enqueues, as before.
"""

import logging
from functools import lru_cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

KEY = "herald:webhook-wakeup"
TTL = 10


@lru_cache(maxsize=1)
def _client() -> redis.Redis | None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def wakeup_claim() -> bool:
    """True when this push must enqueue the processing task (no wake-up is pending)."""
    client = _client()
    if client is None:
        return True
    try:
        return bool(client.set(KEY, 1, nx=True, ex=TTL))
    except redis.RedisError:
        logger.warning("webhook wake-up flag unavailable; enqueueing anyway")
        return True


def wakeup_clear() -> None:
    """Let the next push enqueue again (called by the task before it reads waiting events)."""
    client = _client()
    if client is None:
        return
    try:
        client.delete(KEY)
    except redis.RedisError:
        logger.warning("webhook wake-up flag unavailable; it expires in %ss", TTL)
