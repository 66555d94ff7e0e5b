"""Journey benchmarks (issue #27) and the journey drill; `python -m bench --only journeys`.

`python -m bench.journeys --part events|steps|latency|drill [--size N] [--runs R]` prints one
JSON line per run, each on a fresh database:
- events: `POST /api/v1/events/batch` in batches of 1,000 (Django's test client, the whole DRF
  stack in-process), every event stored and its contact let into a live journey before the
  answer. Target ≥ 5,000 events/s.
- steps: N contacts waiting in one journey (wait → SMS → exit), all due; a real worker
  (`celery -c 2`) takes them through with no per-contact task. The send step's campaign is
  paused, so what is measured is the journey engine (the campaign ledger rows are written; the
  sending itself is the fan-out benchmark's). Target ≥ 10,000 steps/s at 1M, worker PSS < 200 MB.
- latency: 100 events/s for S seconds through gunicorn into a journey whose first step is an SMS;
  each event's trigger → first send (Infobip's acceptance of the SMS, the sandbox here). Target
  p99 < 2 s.
- drill: N due entries (wait → SMS → exit) with the worker killed with -9 three times while they
  run (beat restarts what died): 0 duplicate sends, 0 lost steps, every entry's ledger 1..3.
"""

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench import harness as h

STEPS = {
    "name": "Bench",
    "trigger": {"type": "event", "event": "bench"},
    "reentry": "always",
    "caps": "exempt",
    "steps": [
        {"id": "wait1", "type": "wait", "for": "PT1S"},
        {"id": "sms1", "type": "send", "channel": "sms", "text": "Hi {{first_name}}, it is time"},
        {"id": "done", "type": "exit"},
    ],
}


def _contacts(n: int) -> None:
    """n UK mobiles (+4479xxxxxxxx), one statement."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_contact (phone, first_name, last_name, language, timezone,"
            " country, attributes, opted_out, opted_out_source, opted_out_channel, created_at,"
            " updated_at) SELECT '+4479' || lpad(i::text, 8, '0'), 'N' || i, '', 'en',"
            " 'Europe/London', 'GB', '{}', false, '', '', now(), now()"
            " FROM generate_series(1, %s) AS i",
            [n],
        )


def _journey(definition: dict):
    from core.rules import OPERATOR
    from journeys.services import journey_activate, journey_create

    journey = journey_create(definition=definition, actor=OPERATOR)
    journey_activate(journey=journey, actor=OPERATOR)
    return journey


def _waiting(journey) -> None:
    """Every contact waiting at the journey's first step, due now (as 1M entries would be)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO journeys_journeymember (journey_id, contact_id, entries, last_entered_at)"
            " SELECT %s, id, 1, now() FROM contacts_contact",
            [journey.pk],
        )
        cursor.execute(
            "INSERT INTO journeys_journeyentry (journey_id, version_id, contact_id, seq, key,"
            " unique_key, source, properties, state, step, phase, due_at, wait_event,"
            " waiting_since, resolved, steps_taken, entered_at, exit_reason)"
            " SELECT %s, %s, id, 1, '', false, 'bench:' || id, '{}', 'active', 'wait1',"
            " 'waiting', now() - interval '1 second', '', now(), '', 0, now(), ''"
            " FROM contacts_contact",
            [journey.pk, journey.version_id],
        )
        n = cursor.rowcount
        cursor.execute(
            "INSERT INTO journeys_stepcount (journey_id, version_id, step_id, entered, waiting,"
            ' sent, delayed, "then", otherwise, exited_completed, exited_goal, exited_opted_out,'
            " exited_archived, exited_stopped) VALUES (%s, %s, '', %s, 0, 0, 0, 0, 0, 0, 0, 0,"
            " 0, 0), (%s, %s, 'wait1', %s, %s, 0, 0, 0, 0, 0, 0, 0, 0, 0)",
            [journey.pk, journey.version_id, n, journey.pk, journey.version_id, n, n],
        )
        cursor.execute("ANALYZE")


def _quantiles(values: list[float]) -> dict:
    values = sorted(values)
    if not values:
        return {}
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return {
        "p50": round(pick(0.5), 3),
        "p99": round(pick(0.99), 3),
        "max": round(values[-1], 3),
        "mean": round(statistics.mean(values), 3),
    }


def part_events(size: int, run: int) -> dict:
    """Events through the API in batches of 1,000 into a live journey (in-process)."""
    db = f"herald_bench_jevents_{size}"
    url = h.create_db(db)
    try:
        h.setup_django(
            url, h.broker_url(13), HERALD_API_RATE="1000000/min", CELERY_TASK_ALWAYS_EAGER="false"
        )
        from django.contrib.auth.models import User
        from django.test import Client

        from api.tokens import api_token_create
        from journeys.models import Event, JourneyEntry

        _contacts(size)
        journey = _journey({**STEPS, "steps": [{"id": "w", "type": "wait", "for": "P1D"}]})
        user = User.objects.create_superuser("bench", password=None)
        _, secret = api_token_create(user=user, scopes=["events:write"])
        client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
        # A running server has its URLconf, views and DRF loaded: the first request's imports
        # (~1 s here, a fifth of a 20,000-event run) are start-up, not throughput.
        client.post(
            "/api/v1/events/batch",
            json.dumps({"events": [{"name": "warm-up"}]}),
            content_type="application/json",
        )
        load = h.loadavg()
        start, cpu = time.perf_counter(), time.process_time()
        for offset in range(0, size, 1000):
            events = [
                {
                    "name": "bench",
                    "contact": {"phone": f"+4479{i:08d}"},
                    "key": f"k{i}",
                    "properties": {"item": "shoes", "total": i},
                }
                for i in range(offset + 1, min(offset + 1000, size) + 1)
            ]
            answer = client.post(
                "/api/v1/events/batch",
                json.dumps({"events": events}),
                content_type="application/json",
            )
            if answer.status_code != 202 or answer.json()["rejected"]:
                raise RuntimeError(answer.content[:500])
        elapsed = time.perf_counter() - start
        stored = Event.objects.count()
        entered = JourneyEntry.objects.filter(journey=journey).count()
        return {
            "bench": "journey_events",
            "size": size,
            "run": run,
            "loadavg_before": load,
            "events_per_s": round(size / elapsed),
            "seconds": round(elapsed, 2),
            "app_cpu_us_per_event": round((time.process_time() - cpu) / size * 1e6, 1),
            "stored": stored,
            "entered": entered,
            "ok": stored == size and entered == size,
        }
    finally:
        _drop(db)


def _engine_stack(size: int, logs: Path, db: str, sandbox: "h.Sandbox | None", **env):
    url = h.create_db(db)
    broker = h.broker_url(13)
    h.redis_flush(broker)
    extra = {
        "HERALD_JOURNEY_CHAINS": 2,
        "HERALD_COUNTRY_QUIET_HOURS": "false",
        "HERALD_API_RATE": "1000000/min",
        **env,
    }
    if sandbox is not None:
        extra["INFOBIP_SANDBOX_URL"] = sandbox.url
    h.setup_django(url, broker, **extra)
    _contacts(size)
    return url, broker, h.django_env(url, broker, **extra)


def part_steps(size: int, run: int) -> dict:
    """size due entries of one journey taken through wait → SMS → exit by a real worker."""
    logs = Path(tempfile.mkdtemp(prefix="herald-bench-journeys-"))
    db = f"herald_bench_jsteps_{size}"
    worker = None
    try:
        _, _, env = _engine_stack(size, logs, db, None)
        from campaigns.models import Campaign
        from journeys.models import EntryStep, JourneyEntry
        from journeys.tasks import advance

        journey = _journey(STEPS)
        # Sending is the fan-out benchmark's: the send step's campaign holds what is written.
        Campaign.objects.filter(journey_step__version__journey=journey).update(state="paused")
        _waiting(journey)
        worker = h.worker(env, logs / "worker.log")
        idle = h.tree_pss_mb(worker.pid)
        sampler = h.PssSampler(worker.pid)
        sampler.start()
        load = h.loadavg()
        cpu0 = h.children_cpu_s(worker.pid)
        start = time.perf_counter()
        advance.delay(journey.pk)
        active = JourneyEntry.objects.filter(journey=journey, state="active")
        while active.exists():
            if not worker.alive:
                raise RuntimeError(worker.tail())
            time.sleep(0.5)
            if time.perf_counter() - start > 3600:
                raise RuntimeError("steps did not finish in an hour")
        elapsed = time.perf_counter() - start
        peak = sampler.stop()
        steps = EntryStep.objects.filter(entry__journey=journey).count()
        from campaigns.models import Message

        messages = Message.objects.filter(campaign__journey_step__version__journey=journey).count()
        return {
            "bench": "journey_steps",
            "size": size,
            "run": run,
            "loadavg_before": load,
            "steps": steps,
            "steps_per_s": round(steps / elapsed),
            "entries_per_s": round(size / elapsed),
            "seconds": round(elapsed, 1),
            "worker_cpu_us_per_step": round((h.children_cpu_s(worker.pid) - cpu0) / steps * 1e6, 1),
            "worker_idle_pss_mb": round(idle, 1),
            "worker_peak_pss_mb": round(peak, 1),
            "messages_written": messages,
            "ok": steps == 3 * size and messages == size,
        }
    finally:
        if worker is not None:
            worker.stop()
        _drop(db)


def _stages(sent_at: dict[str, float]) -> dict:
    """Where the time went, per event: the POST → the event stored (the request's clock) →
    the engine's batch that wrote its message → the send batch that claimed it → Infobip's
    answer recorded."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT m.phone, extract(epoch FROM e.received_at), extract(epoch FROM m.created_at),"
            " extract(epoch FROM m.claimed_at), extract(epoch FROM m.accepted_at)"
            " FROM campaigns_message m JOIN journeys_event e ON e.contact_id = m.contact_id"
            " WHERE m.accepted_at IS NOT NULL"
        )
        rows = cursor.fetchall()
    gaps: dict[str, list[float]] = {
        "post_to_stored": [],
        "stored_to_engine": [],
        "engine_to_claim": [],
        "claim_to_accepted": [],
    }
    for phone, received, created, claimed, accepted in rows:
        marks = [sent_at[phone], float(received), float(created), float(claimed), float(accepted)]
        for name, a, b in zip(gaps, marks, marks[1:], strict=False):
            gaps[name].append(b - a)
    return {name: _quantiles(values) for name, values in gaps.items()}


def part_latency(seconds: int, run: int, rate: int = 100) -> dict:
    """rate events/s for `seconds` through gunicorn; trigger → first send, per event."""
    import requests

    logs = Path(tempfile.mkdtemp(prefix="herald-bench-jlatency-"))
    size = seconds * rate
    db = f"herald_bench_jlatency_{size}"
    sandbox = h.Sandbox(logs / "sandbox.log", ["--push-delay", "0.5"])
    worker = web = None
    try:
        port = h.free_port()
        _, _, env = _engine_stack(
            size, logs, db, sandbox, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}"
        )
        from django.contrib.auth.models import User

        from api.tokens import api_token_create
        from campaigns.models import Message

        _journey({**STEPS, "steps": STEPS["steps"][1:]})  # the SMS first, then exit
        user = User.objects.create_superuser("bench", password=None)
        _, secret = api_token_create(user=user, scopes=["events:write"])
        worker = h.worker(env, logs / "worker.log")
        web = h.gunicorn(env, port, logs / "web.log", logs / "access.log")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {secret}"
        sent_at: dict[str, float] = {}
        load = h.loadavg()
        t0 = time.time()

        def post(i: int) -> None:
            phone = f"+4479{i:08d}"
            wait = t0 + (i - 1) / rate - time.time()
            if wait > 0:
                time.sleep(wait)
            sent_at[phone] = time.time()
            body = {"name": "bench", "contact": {"phone": phone}}
            answer = session.post(f"http://127.0.0.1:{port}/api/v1/events", json=body, timeout=30)
            if answer.status_code != 202:
                raise RuntimeError(answer.text[:300])

        threads = [
            threading.Thread(target=lambda k=k: [post(i) for i in range(k, size + 1, 8)])
            for k in range(1, 9)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        deadline = time.time() + 120
        accepted = Message.objects.filter(accepted_at__isnull=False)
        while accepted.count() < size and time.time() < deadline:
            time.sleep(0.5)
        latencies = [
            at.timestamp() - sent_at[phone]
            for phone, at in accepted.values_list("phone", "accepted_at")
        ]
        return {
            "bench": "journey_latency",
            "size": size,
            "run": run,
            "rate": rate,
            "loadavg_before": load,
            "sent": len(latencies),
            "latency_s": _quantiles(latencies),
            "stages_s": _stages(sent_at),
            "ok": len(latencies) == size,
        }
    finally:
        for proc in (web, worker):
            if proc is not None:
                proc.stop()
        sandbox.stop()
        _drop(db)


def part_drill(size: int, run: int, kills: int = 3, seed: int | None = None) -> dict:
    """Kill -9 the worker `kills` times while `size` due entries are taken through a send."""
    rng = random.Random(seed)
    logs = Path(tempfile.mkdtemp(prefix="herald-drill-journeys-"))
    db = f"herald_bench_jdrill_{size}"
    sandbox = h.Sandbox(logs / "sandbox.log", ["--push-delay", "600"])
    worker = beat = None
    try:
        _, _, env = _engine_stack(
            size,
            logs,
            db,
            sandbox,
            HERALD_SWEEP_INTERVAL="2",
            HERALD_SETTLE_AFTER="5",
            HERALD_REQUEUE_AFTER="20",
        )
        from django.db.models import Count, Max, Min

        from campaigns.models import Message, SendBatch
        from journeys.models import EntryStep, JourneyEntry, StepCount

        journey = _journey(STEPS)
        _waiting(journey)
        worker = h.worker(env, logs / "worker.log")
        beat = h.Process(
            "beat",
            [
                str(h.VENV_BIN / "celery"),
                "-A",
                "config",
                "beat",
                "-l",
                "info",
                "-s",
                str(logs / "beat-schedule"),
            ],
            env,
            logs / "beat.log",
        ).start(ready=b"beat: Starting")
        load = h.loadavg()
        start = time.perf_counter()
        killed_at = []
        # Kills spread over the run: when the journey ledger holds about 15 %, 45 % and 75 %
        # of its 3 × size rows (give or take a random 0–5 %), whatever step is running then.
        steps = EntryStep.objects.filter(entry__journey=journey)
        for k in range(kills):
            goal = int(3 * size * ((0.15 + 0.3 * k) + rng.uniform(0, 0.05)))
            while steps.count() < goal and time.perf_counter() - start < 900:
                time.sleep(0.2)
            worker.kill()
            killed_at.append(steps.count())
            worker = h.worker(env, logs / "worker.log")
        active = JourneyEntry.objects.filter(journey=journey, state="active")
        deadline = time.perf_counter() + 1800
        while time.perf_counter() < deadline and (
            active.exists()
            or Message.objects.filter(state="queued").exists()
            or SendBatch.objects.filter(state="claimed").exists()
        ):
            time.sleep(1)
        elapsed = time.perf_counter() - start
        state = sandbox.state()
        per_entry = EntryStep.objects.values("entry_id").annotate(
            rows=Count("id"), low=Min("n"), high=Max("n")
        )
        bad_ledgers = sum(1 for r in per_entry if (r["rows"], r["low"], r["high"]) != (3, 1, 3))
        messages = Message.objects.filter(campaign__journey_step__version__journey=journey)
        per_contact = messages.values("contact_id").annotate(n=Count("id")).filter(n__gt=1).count()
        counts = {r["step_id"]: r for r in StepCount.objects.filter(journey=journey).values()}
        consistent = (
            counts["sms1"]["sent"] == size
            and counts["done"]["exited_completed"] == size
            and sum(r["waiting"] for k, r in counts.items() if k) == 0
        )
        return {
            "bench": "journey_drill",
            "size": size,
            "run": run,
            "kills": kills,
            "killed_at_ledger_rows": killed_at,
            "loadavg_before": load,
            "seconds": round(elapsed, 1),
            "entries_left_active": active.count(),
            "sandbox_accepted": state["accepted"]["total"],
            "duplicates": state["duplicates"],
            "contacts_with_two_messages": per_contact,
            "entries_with_a_bad_ledger": bad_ledgers,
            "entries_with_a_ledger": len(per_entry),
            "counters_consistent": consistent,
            "ok": (
                state["accepted"]["total"] == size
                and not active.exists()
                and state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
                and per_contact == 0
                and bad_ledgers == 0
                and len(per_entry) == size
                and consistent
            ),
        }
    finally:
        for proc in (beat, worker):
            if proc is not None:
                proc.stop()
        sandbox.stop()
        _drop(db)


def _drop(db: str) -> None:
    """Close this process's connections and drop the part's database; a part that failed before
    Django was set up (a wrong DATABASE_URL) keeps its own error rather than Django's."""
    from django.conf import settings

    if settings.configured:
        from django.db import connections

        connections.close_all()
    h.drop_db(db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--part", choices=["events", "steps", "latency", "drill"], required=True)
    parser.add_argument("--size", type=int, default=0, help="events, entries (latency: seconds)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    h.stop_on_sigterm()
    defaults = {"events": 50_000, "steps": 100_000, "latency": 30, "drill": 100_000}
    size = args.size or defaults[args.part]
    for run in range(args.runs):
        if args.part == "events":
            result = part_events(size, run)
        elif args.part == "steps":
            result = part_steps(size, run)
        elif args.part == "latency":
            result = part_latency(size, run)
        else:
            result = part_drill(size, run, seed=args.seed)
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
