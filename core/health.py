"""What `GET /healthz/` and the dashboard say: is every part of Herald working right now?

Parts: the database (a query), the broker (a connection and, on Redis, a PING), the workers
(for each queue, the age of the freshest heartbeat a worker ran from it: beat sends one to every
queue each sweep interval, so a fresh one proves beat → broker → queue → worker → database), beat
(the age of its own last tick) and Infobip (the last connection check). Alive means younger than
3 sweep intervals. Any part down → the report is not ok (503).
"""

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.models import InfobipConnection, SchedulerTick, WorkerHeartbeat
from core.services import alive_within

logger = logging.getLogger(__name__)

# Seconds the broker check may take before the broker counts as down.
BROKER_TIMEOUT = 2.0


@dataclass
class Health:
    """The parts' states, JSON-ready (`as_dict`), and whether all of them are up (`ok`)."""

    database: str = "down"
    broker: str = "down"
    worker: dict[str, Any] = field(default_factory=dict)
    beat: dict[str, Any] = field(default_factory=dict)
    infobip: str = "unknown"
    infobip_check: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return (
            self.database == "ok"
            and self.broker == "ok"
            and bool(self.worker.get("alive"))
            and bool(self.beat.get("alive"))
            and self.infobip not in ("unreachable", "unauthorized")
        )

    def problems(self) -> list[str]:
        """What is not working, in words (the dashboard shows them)."""
        found = []
        if self.database != "ok":
            found.append("the database is down")
        if self.broker != "ok":
            found.append(
                "the broker (the task queue) is unreachable: sends and reports wait "
                "until it is back"
            )
        queues = self.worker.get("queues") or {}
        stale = [(q, state["heartbeat_age_s"]) for q, state in queues.items() if not state["alive"]]
        if stale:
            names = [q for q, _ in stale]
            plural = " queue's" if len(names) == 1 else " queues'"
            which = "any queue's" if len(names) == len(queues) else f"the {_and(names)}{plural}"
            ages = [age for _, age in stale if age is not None]
            when = f"for {min(ages)} s" if len(ages) == len(stale) else "yet"
            found.append(f"no worker has taken {which} work {when}")
        if self.database == "ok" and not self.beat.get("alive"):
            age = self.beat.get("last_tick_age_s")
            found.append(
                "the scheduler (beat) has not run yet"
                if age is None
                else f"the scheduler (beat) last ran {age} s ago"
            )
        if self.infobip in ("unreachable", "unauthorized"):
            reason = (self.infobip_check or {}).get("reason") or ""
            found.append(f"Infobip is {self.infobip}" + (f": {reason}" if reason else ""))
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "down",
            "database": self.database,
            "broker": self.broker,
            "worker": self.worker,
            "beat": self.beat,
            "infobip": self.infobip,
            "infobip_check": self.infobip_check,
        }


def database_up() -> bool:
    """The database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception as exc:
        logger.warning("health: database down: %s", exc)
        return False


def broker_up(url: str | None = None, timeout: float = BROKER_TIMEOUT) -> bool:
    """The broker accepts a connection (and answers PING when it is Redis)."""
    from kombu.connection import Connection

    url = url or settings.CELERY_BROKER_URL
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    try:
        with Connection(url, connect_timeout=timeout, transport_options=options) as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=timeout
            )
            if conn.transport.driver_type == "redis":
                conn.default_channel.client.ping()
        return True
    except Exception as exc:
        logger.warning("health: broker down: %s", exc)
        return False


def _age(at: dt.datetime | None, now: dt.datetime) -> int | None:
    return None if at is None else max(0, int((now - at).total_seconds()))


def workers_state(now: dt.datetime) -> dict[str, Any]:
    """Per queue, the freshest heartbeat's age; alive when every queue has a fresh one."""
    freshest: dict[str, dt.datetime] = {}
    for queue, seen in WorkerHeartbeat.objects.values_list("queue", "last_seen"):
        if queue not in freshest or seen > freshest[queue]:
            freshest[queue] = seen
    limit = alive_within().total_seconds()
    queues = {}
    for queue in settings.HERALD_QUEUES:
        age = _age(freshest.get(queue), now)
        queues[queue] = {"alive": age is not None and age < limit, "heartbeat_age_s": age}
    ages = [q["heartbeat_age_s"] for q in queues.values()]
    known = [age for age in ages if age is not None]
    oldest = max(known) if known and len(known) == len(ages) else None
    return {
        "alive": all(q["alive"] for q in queues.values()),
        "heartbeat_age_s": oldest,
        "queues": queues,
    }


def beat_state(now: dt.datetime) -> dict[str, Any]:
    """The age of beat's latest tick; alive when younger than 3 sweep intervals."""
    last = SchedulerTick.objects.order_by("-last_tick").values_list("last_tick", flat=True).first()
    age = _age(last, now)
    return {
        "alive": age is not None and age < alive_within().total_seconds(),
        "last_tick_age_s": age,
    }


def infobip_state() -> tuple[str, dict[str, Any] | None]:
    """ok | sandbox | unauthorized | unreachable | unchecked, and the last check's details."""
    check = InfobipConnection.objects.filter(pk=1).first()
    if check is None:
        return "unchecked", None
    detail = {"ok": check.ok, "reason": check.reason, "checked_at": check.checked_at.isoformat()}
    if check.ok:
        return ("sandbox" if settings.INFOBIP_SANDBOX else "ok"), detail
    if check.status_code in (401, 403):
        return "unauthorized", detail
    return "unreachable", detail


def health_check() -> Health:
    """Check every part now."""
    now = timezone.now()
    health = Health(broker="ok" if broker_up() else "down")
    if not database_up():
        # Nothing else can be read: the workers and beat count as not known to be alive.
        health.worker = {"alive": False, "heartbeat_age_s": None, "queues": {}}
        health.beat = {"alive": False, "last_tick_age_s": None}
        return health
    health.database = "ok"
    health.worker = workers_state(now)
    health.beat = beat_state(now)
    health.infobip, health.infobip_check = infobip_state()
    return health


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
