"""Drills 11 and 12 (bench/drill.py): the broker and PostgreSQL go away mid-campaign.

Every Herald process (web, worker, beat) reaches Redis and PostgreSQL through a TCP proxy
(`harness.TcpProxy`) that the drill cuts: every open connection is reset, and so is each new
one for the outage, then they are forwarded again — what the processes see of a Redis outage or
a PostgreSQL restart. The drill itself checks through direct connections.

11. broker down: a campaign at a speed limit (one chain of countdown tasks, reserved in the
    worker — what ended Celery 5.7.0's worker) loses Redis for --broker-outage s (30) once the
    sandbox accepted ~20 %; meanwhile three `POST /api/v1/messages` calls must answer 202
    `queued` (or 503 with Retry-After and nothing recorded), never 500. Checks: the worker lived
    (no supervisor here), sending resumed within 60 s of the broker's return, every recipient
    and API message handed to the sandbox exactly once, counters equal a GROUP BY.
12. PostgreSQL restart: the same campaign loses the database for --pg-outage s (10) — every
    connection of every process dropped — while reports are pushed. Checks: as 10, and every
    final state equals the sandbox's truth.
"""

import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from bench import harness as h

API_SENDS = 3
RESUME_LIMIT = 60.0  # seconds after the return within which sending must resume


def proxied(url: str, proxy: h.TcpProxy) -> str:
    """`url` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    auth = netloc[0] + "@" if len(netloc) == 2 else ""
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{proxy.port}"))


def _target(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def proxies_for(database_url: str, broker: str) -> tuple[h.TcpProxy, h.TcpProxy]:
    """A proxy in front of PostgreSQL and one in front of Redis."""
    return h.TcpProxy(_target(database_url, 5432)), h.TcpProxy(_target(broker, 6379))


def _accepted(stack: Any) -> int:
    return int(stack.sandbox.state()["accepted"]["total"])


def _api_token(username: str = "drill-api") -> str:
    from django.contrib.auth.models import User

    from api.tokens import api_token_create

    user, _ = User.objects.get_or_create(username=username, defaults={"is_superuser": True})
    _, secret = api_token_create(user=user, scopes=["messages:send", "read"])
    return secret


def _api_send(stack: Any, token: str, index: int) -> dict:
    """One transactional SMS through the web process; what it answered."""
    body = {
        "channel": "sms",
        "sender": "Drill",
        "to": [f"+4479111{index:05d}"],
        "text": f"Drill order {index} shipped",
    }
    try:
        answer = requests.post(
            f"{stack.web_url}/api/v1/messages",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"drill-{index}"},
            timeout=30,
        )
    except requests.RequestException as exc:
        return {"status": None, "error": type(exc).__name__}
    record: dict[str, Any] = {
        "status": answer.status_code,
        "json": answer.headers.get("Content-Type", "").startswith("application/json"),
    }
    if answer.status_code == 202:
        record["messages"] = [(m["messageId"], m["state"]) for m in answer.json()["messages"]]
    elif answer.status_code == 503:
        record["retry_after"] = answer.headers.get("Retry-After")
    return record


def _resume_after(stack: Any, before: int, started: float, timeout: float) -> float | None:
    """Seconds from `started` until the sandbox accepts more than `before` (None: never)."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        if _accepted(stack) > before:
            return round(time.monotonic() - started, 2)
        time.sleep(0.2)
    return None


def api_checks(stack: Any, sends: list[dict]) -> dict:
    """Each API call answered 202 or 503 (JSON, never 500); each 202 message sent once."""
    truths = stack.sandbox.truths()
    answered = [s for s in sends if s.get("status") == 202]
    ids = [mid for s in answered for mid, _ in s["messages"]]
    return {
        "api_statuses": [s.get("status") for s in sends],
        "api_json": all(s.get("json") for s in sends if s.get("status")),
        "api_202_sent_once": all(mid in truths for mid in ids),
        "api_503_retry_after": all(s.get("retry_after") for s in sends if s.get("status") == 503),
        "api_ok": bool(sends)
        and all(s.get("status") in (202, 503) for s in sends)
        and all(mid in truths for mid in ids),
    }


def drill_broker_down(stack: Any, outage: float, speed: int) -> dict:
    """Drill 11: Redis away for `outage` seconds mid-campaign."""
    from bench.drill import _handed, _wait, exactly_once

    stack.fresh()
    token = _api_token()
    start = time.monotonic()
    campaign_id = stack.launch("drill broker down", speed_limit=speed)
    _wait(
        lambda: _accepted(stack) >= stack.size * 0.2,
        timeout=max(300, stack.size / 20),
        what="20 % accepted",
        interval=0.1,
    )
    stack.broker_proxy.down()
    cut_at = round(time.monotonic() - start, 2)
    sends = [_api_send(stack, token, i) for i in range(API_SENDS)]
    time.sleep(max(0.0, outage - (time.monotonic() - start - cut_at)))
    during = _accepted(stack)
    stack.broker_proxy.up()
    back = time.monotonic()
    resume_s = _resume_after(stack, during, back, timeout=RESUME_LIMIT * 2)
    _wait(
        lambda: _handed(campaign_id),
        timeout=max(300, stack.size / max(speed, 1) * 3),
        what="all handed",
    )
    _wait(
        lambda: _accepted(stack) >= stack.size + _sent_ok(sends),
        timeout=120,
        what="the API messages sent",
    )
    result = _with_api(exactly_once(stack, campaign_id, extra=_sent_ok(sends)), stack, sends)
    result.update(
        cut_at_s=cut_at,
        outage_s=outage,
        accepted_at_return=during,
        resume_s=resume_s,
        worker_alive=stack.worker.alive,
        seconds=round(time.monotonic() - start, 1),
    )
    result["ok"] = (
        result["ok"]
        and result["api_ok"]
        and result["worker_alive"]
        and resume_s is not None
        and resume_s < RESUME_LIMIT
    )
    return result


def drill_pg_restart(stack: Any, outage: float, speed: int) -> dict:
    """Drill 12: every database connection dropped, none accepted for `outage` seconds."""
    from bench.drill import (
        _all_final,
        _events_processed,
        _handed,
        _wait,
        exactly_once,
        truth_checks,
    )

    stack.fresh()
    stack.sandbox.configure(push_delay=1.0, push_jitter=1.0)
    token = _api_token()
    start = time.monotonic()
    campaign_id = stack.launch("drill postgresql restart", speed_limit=speed)
    _wait(
        lambda: _accepted(stack) >= stack.size * 0.2,
        timeout=max(300, stack.size / 20),
        what="20 % accepted",
        interval=0.1,
    )
    stack.db_proxy.down()
    cut_at = round(time.monotonic() - start, 2)
    sends = [_api_send(stack, token, 100 + i) for i in range(API_SENDS)]
    time.sleep(max(0.0, outage - (time.monotonic() - start - cut_at)))
    during = _accepted(stack)
    stack.db_proxy.up()
    back = time.monotonic()
    resume_s = _resume_after(stack, during, back, timeout=RESUME_LIMIT * 2)
    _wait(
        lambda: _handed(campaign_id),
        timeout=max(300, stack.size / max(speed, 1) * 3),
        what="all handed",
    )
    _wait(lambda: _all_final(campaign_id, stack.size), timeout=300, what="all final")
    _wait(
        lambda: stack.sandbox.state()["reports"]["pending"] == 0,
        timeout=120,
        what="no report pending",
    )
    _wait(_events_processed, timeout=120, what="every stored push processed")
    once = exactly_once(stack, campaign_id, extra=_sent_ok(sends))
    truth = truth_checks(stack, campaign_id, extra=_sent_ok(sends))
    result = _with_api(once, stack, sends)
    result.update(
        mismatches=truth["mismatches"],
        compared=truth["compared"],
        cut_at_s=cut_at,
        outage_s=outage,
        accepted_at_return=during,
        resume_s=resume_s,
        worker_alive=stack.worker.alive,
        seconds=round(time.monotonic() - start, 1),
    )
    result["ok"] = (
        once["ok"]
        and truth["ok"]
        and result["api_ok"]
        and resume_s is not None
        and resume_s < RESUME_LIMIT
    )
    return result


def _sent_ok(sends: list[dict]) -> int:
    return sum(len(s["messages"]) for s in sends if s.get("status") == 202)


def _with_api(result: dict, stack: Any, sends: list[dict]) -> dict:
    return {**result, **api_checks(stack, sends)}
