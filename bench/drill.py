"""Fault drills 5–12 (make drill): the engine under kill -9, provider storms, report chaos, a
database outage, two worker nodes, the broker down and PostgreSQL restarted mid-campaign, on
PostgreSQL + Redis + real worker/beat/web processes + the sandbox.

`python -m bench.drill [--size 100000] [--small-size 20000] [--kills 5] [--outage 10]
[--broker-outage 30] [--pg-outage 10] [--outage-speed 500] [--drills 5,6,7,8,9,10,11,12]
[--node-kills 1] [--name drill] [--json]` exits non-zero if any drill fails. Drills 5 and 9 use
--size, the others --small-size. Each drill starts from an empty
ledger in its own database (`herald_bench_drill_*`, dropped at the end) and ends with checks
against the sandbox's truth:

5. kill -9: SIGKILL the worker's whole process group --kills times at random moments, restart it;
   every recipient handed to the sandbox exactly once (it counts duplicates by messageId and by
   number+callbackData), none lost, ledger counters equal to a GROUP BY of the ledger.
6. provider storms: 20 % 429 (half with Retry-After), 5 % 5xx, 1 % connections dropped after the
   request was read; every recipient sent exactly once.
7. report chaos: reports duplicated (half the pushes twice), shuffled, late intermediates;
   final states equal the sandbox's truth, message for message.
8. database down: the web server reaches PostgreSQL through a TCP proxy that is cut for
   --outage seconds while reports are being pushed; pushes are answered non-2xx meanwhile and
   nothing is lost once it is back (final states equal the truth).
10. journeys under kill -9 (bench/journeys.py): --size contacts due in one journey (wait → SMS
   → exit), the worker killed -9 --kills-journeys times while they run; every SMS handed to the
   sandbox exactly once, no entry left behind, every entry's ledger exactly its three steps,
   the step counters equal to what happened.
9. two nodes: two separate workers (`celery worker -n node1@%h` and `-n node2@%h`, prefork
   -c 2 each, as on two machines) on the same broker and database send one campaign; one node
   is SIGKILLed --node-kills times once the sandbox has accepted ~40 % (and restarted under its
   name). Checks as 5, and both nodes' pool children must have done work.

11–12. broker down / PostgreSQL restart: see bench/outages.py (a speed-limited campaign, the
   outage at ~20 %, API sends meanwhile; nothing lost or doubled, counters equal a GROUP BY,
   sending resumed within 60 s of the return).

Beat runs for real (sweep every second), with short reconciliation delays
(HERALD_SETTLE_AFTER=3, HERALD_REQUEUE_AFTER=8) so a drill takes seconds, not the production
minutes; batch size and chains are the production defaults.
"""

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench import harness as h
from bench import outages as outage_drills
from bench.data import make_audience, reset_ledger

KNOBS = {
    "HERALD_SETTLE_AFTER": 3,
    "HERALD_REQUEUE_AFTER": 8,
    "HERALD_SWEEP_INTERVAL": 1,
    "HERALD_WEBHOOK_BACKLOG_INTERVAL": 2,
}
# Extra modules the worker imports (--worker-include): a way to try a candidate engine fix.
WORKER_INCLUDE = ""
KILL_GAP = 8.0  # the longest wait (s) before each kill; --kill-gap
NODES = ("node1@%h", "node2@%h")
FINAL = ("delivered", "undeliverable", "expired", "rejected")


class Stack:
    """One database with an audience, a sandbox, a worker, beat and (optionally) gunicorn.

    `outages`: every process reaches PostgreSQL and Redis through a TCP proxy each (drills 11
    and 12 cut them); the drill's own checks go direct.
    """

    def __init__(
        self,
        size: int,
        broker: str,
        logs: Path,
        web: bool,
        proxy: bool = False,
        outages: bool = False,
    ):
        self.size, self.broker, self.logs = size, broker, logs
        self.db = f"herald_bench_drill_{os.getpid()}"
        self.url = h.create_db(self.db)
        self.list_id = make_audience(self.db, size)
        self.sandbox = h.Sandbox(logs / "sandbox.log", ["--push-delay", "86400"])
        self.port = h.free_port()
        self.web_url = f"http://127.0.0.1:{self.port}"
        # The shared cache on the broker's server, in a database of the drills' own.
        cache = broker.rsplit("/", 1)[0] + "/15"
        extra = {
            "INFOBIP_SANDBOX_URL": self.sandbox.url,
            "PUBLIC_BASE_URL": self.web_url,
            "HERALD_CACHE_URL": cache,
            **KNOBS,
        }
        self.env = h.django_env(self.url, broker, **extra)
        h.setup_django(self.url, broker, **extra)
        self.db_proxy = self.broker_proxy = None
        if outages:
            self.db_proxy, self.broker_proxy = outage_drills.proxies_for(self.url, broker)
            self.env = {
                **self.env,
                "DATABASE_URL": outage_drills.proxied(self.url, self.db_proxy),
                "CELERY_BROKER_URL": outage_drills.proxied(broker, self.broker_proxy),
                "HERALD_CACHE_URL": outage_drills.proxied(cache, self.broker_proxy),
            }
        self.proxy = None
        web_env = self.env
        if proxy:
            parts = urlsplit(self.url)
            self.proxy = h.TcpProxy((parts.hostname, parts.port or 5432))
            proxied = self.url.replace(f":{parts.port}/", f":{self.proxy.port}/")
            web_env = {**self.env, "DATABASE_URL": proxied}
        self.web = (
            h.gunicorn(web_env, self.port, logs / "web.log", logs / "access.log") if web else None
        )
        self.worker = self.start_worker()
        self.beat = h.Process(
            "beat",
            [
                str(h.VENV_BIN / "celery"),
                "-A",
                "config",
                "beat",
                "-l",
                "warning",
                "-s",
                str(logs / "beat-schedule"),
            ],
            self.env,
            logs / "beat.log",
        ).start()

    def start_worker(self, name: str = "") -> h.Process:
        log = self.logs / (f"worker-{name.split('@')[0]}.log" if name else "worker.log")
        return h.worker(self.env, log, include=WORKER_INCLUDE, name=name)

    def fresh(self) -> None:
        """Empty ledger, queue and sandbox (same audience, same processes)."""
        from django.db import connection

        connection.close()
        reset_ledger(self.db)
        h.redis_flush(self.broker)
        self.sandbox.reset()

    def launch(self, name: str, speed_limit: int | None = None) -> int:
        from campaigns.services import campaign_create, campaign_launch
        from contacts.models import ContactList
        from core.rules import OPERATOR

        campaign = campaign_create(
            name=name,
            channel="sms",
            lists=[ContactList.objects.get(pk=self.list_id)],
            text=h.TEXT,
            speed_limit=speed_limit,
            speed_unit="second",
        )
        campaign_launch(campaign=campaign, actor=OPERATOR)
        return campaign.pk

    def close(self) -> None:
        for proc in (self.beat, self.worker, self.web):
            if proc:
                proc.stop()
        self.sandbox.stop()
        for proxy in (self.proxy, self.db_proxy, self.broker_proxy):
            if proxy:
                proxy.down()
        from django.db import connections

        connections.close_all()
        h.drop_db(self.db)


def _wait(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout:.0f}s")


def _handed(campaign_id: int) -> bool:
    from campaigns.models import Campaign

    c = Campaign.objects.values("frozen_at", "count_queued", "count_sending").get(pk=campaign_id)
    return bool(c["frozen_at"]) and not c["count_queued"] and not c["count_sending"]


def ledger_checks(campaign_id: int, size: int) -> dict:
    """Ledger rows, counters vs. a GROUP BY, and nothing left queued/sending."""
    from django.db.models import Count

    from campaigns.models import COUNTER_FIELDS, Campaign, Message

    c = Campaign.objects.get(pk=campaign_id)
    actual = dict(
        Message.objects.filter(campaign_id=campaign_id)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    counters = {s: getattr(c, f) for s, f in COUNTER_FIELDS.items() if getattr(c, f)}
    return {
        "rows": sum(actual.values()),
        "by_state": actual,
        "counters_match": counters == {s: n for s, n in actual.items() if n},
        "left_queued_or_sending": actual.get("queued", 0) + actual.get("sending", 0),
        "rows_ok": sum(actual.values()) == size and c.recipients == size,
    }


def exactly_once(stack: Stack, campaign_id: int, extra: int = 0) -> dict:
    """Sandbox: every recipient accepted once; ledger: the same message ids, all accounted for.

    `extra`: messages sent besides the campaign (drills 11 and 12's API sends).
    """
    from campaigns.models import Message

    state = stack.sandbox.state()
    truths = stack.sandbox.truths()
    ledger_ids = {
        str(m)
        for m in Message.objects.filter(campaign_id=campaign_id).values_list(
            "message_id", flat=True
        )
    }
    numbers = {t["to"] for t in truths.values()}
    checks = ledger_checks(campaign_id, stack.size)
    campaign_truths = {k for k, t in truths.items() if k in ledger_ids}
    checks.update(
        {
            "sandbox_accepted": state["accepted"]["total"],
            "sandbox_duplicates": state["duplicates"],
            "distinct_numbers_at_sandbox": len(numbers),
            "ledger_ids_equal_sandbox_ids": ledger_ids == campaign_truths,
            "faults": state["faults"],
        }
    )
    checks["ok"] = (
        checks["sandbox_accepted"] == stack.size + extra
        and len(numbers) == stack.size + extra
        and not any(state["duplicates"].values())
        and checks["ledger_ids_equal_sandbox_ids"]
        and checks["counters_match"]
        and checks["rows_ok"]
        and checks["left_queued_or_sending"] == 0
    )
    return checks


def truth_checks(stack: Stack, campaign_id: int, extra: int = 0) -> dict:
    """Final state and status of every message equal the sandbox's truth (`extra`: messages
    sent besides the campaign)."""
    from campaigns.models import Message

    truths = stack.sandbox.truths()
    mismatches = []
    for message_id, state, status in Message.objects.filter(campaign_id=campaign_id).values_list(
        "message_id", "state", "status_name"
    ):
        t = truths.get(str(message_id))
        if t is None or (t["outcome"], t["status"]) != (state, status):
            mismatches.append(
                {
                    "messageId": str(message_id),
                    "ledger": [state, status],
                    "truth": t and [t["outcome"], t["status"]],
                }
            )
    checks = ledger_checks(campaign_id, stack.size)
    checks.update(
        {"compared": len(truths), "mismatches": len(mismatches), "mismatch_sample": mismatches[:3]}
    )
    checks["ok"] = (
        not mismatches
        and len(truths) == stack.size + extra
        and checks["counters_match"]
        and checks["rows_ok"]
    )
    return checks


def _all_final(campaign_id: int, size: int) -> bool:
    from campaigns.models import Campaign

    c = Campaign.objects.values(*(f"count_{s}" for s in FINAL)).get(pk=campaign_id)
    return sum(c.values()) >= size


def _events_processed() -> bool:
    """Every stored webhook push has been processed (late duplicates included)."""
    from infobip.models import WebhookEvent

    return not WebhookEvent.objects.filter(status="received").exists()


def drill_kill(stack: Stack, kills: int, rng: random.Random) -> dict:
    stack.fresh()
    # Slightly slow answers so that kills land while requests are in flight, too.
    stack.sandbox.configure(slow_ms=30, slow_rate=1.0)
    start = time.monotonic()
    campaign_id = stack.launch("drill kill -9")
    moments = []
    for _ in range(kills):
        time.sleep(rng.uniform(0.5, KILL_GAP))
        moments.append(round(time.monotonic() - start, 2))
        stack.worker.kill()
        time.sleep(rng.uniform(0.1, 1.0))
        stack.worker = stack.start_worker()
    _wait(lambda: _handed(campaign_id), timeout=max(300, stack.size / 100), what="all handed")
    result = exactly_once(stack, campaign_id)
    result.update({"kills_at_s": moments, "seconds": round(time.monotonic() - start, 1)})
    return result


def drill_storm(stack: Stack) -> dict:
    stack.fresh()
    stack.sandbox.configure(
        rate_429=0.2,
        retry_after_share=0.5,
        retry_after_seconds=1,
        rate_5xx=0.05,
        drop_after_read=0.01,
    )
    start = time.monotonic()
    campaign_id = stack.launch("drill storm")
    _wait(lambda: _handed(campaign_id), timeout=max(300, stack.size / 50), what="all handed")
    result = exactly_once(stack, campaign_id)
    result["seconds"] = round(time.monotonic() - start, 1)
    # A storm that never hit proves nothing.
    result["ok"] = result["ok"] and result["faults"]["429"] > 0
    stack.sandbox.configure(rate_429=0.0, rate_5xx=0.0, drop_after_read=0.0)
    return result


def drill_reports(stack: Stack) -> dict:
    stack.fresh()
    stack.sandbox.configure(
        push_delay=1.0,
        push_jitter=1.0,
        duplicate_pushes=0.5,
        shuffle_pushes=True,
        intermediate=True,
    )
    start = time.monotonic()
    campaign_id = stack.launch("drill report chaos")
    _wait(lambda: _handed(campaign_id), timeout=max(300, stack.size / 100), what="all handed")
    _wait(lambda: _all_final(campaign_id, stack.size), timeout=120, what="all final")
    _wait(
        lambda: stack.sandbox.state()["reports"]["pending"] == 0,
        timeout=60,
        what="no report pending",
    )
    _wait(_events_processed, timeout=60, what="every stored push processed")
    result = truth_checks(stack, campaign_id)
    state = stack.sandbox.state()["reports"]
    result.update(
        {
            "pushed": state["pushed"],
            "duplicate_pushes": state["duplicatePushes"],
            "seconds": round(time.monotonic() - start, 1),
        }
    )
    result["ok"] = result["ok"] and state["duplicatePushes"] > 0
    return result


def drill_db_down(stack: Stack, outage: float) -> dict:
    assert stack.proxy is not None
    stack.fresh()
    stack.sandbox.configure(push_delay=2.0, push_jitter=1.0)
    access = stack.logs / "access.log"
    offset = access.stat().st_size if access.exists() else 0
    start = time.monotonic()
    campaign_id = stack.launch("drill database down")
    _wait(
        lambda: stack.sandbox.state()["reports"]["pushed"] > 0,
        timeout=120,
        what="first reports pushed",
        interval=0.05,
    )
    before = stack.sandbox.state()["reports"]
    stack.proxy.down()
    cut_at = round(time.monotonic() - start, 2)
    time.sleep(outage)
    during = stack.sandbox.state()["reports"]
    stack.proxy.up()
    _wait(lambda: _handed(campaign_id), timeout=max(300, stack.size / 100), what="all handed")
    _wait(lambda: _all_final(campaign_id, stack.size), timeout=180, what="all final")
    _wait(
        lambda: stack.sandbox.state()["reports"]["pending"] == 0,
        timeout=60,
        what="no report pending",
    )
    _wait(_events_processed, timeout=60, what="every stored push processed")
    result = truth_checks(stack, campaign_id)
    statuses: dict[str, int] = {}
    with access.open() as fh:
        fh.seek(offset)
        for line in fh:
            code = line.split()[0]
            statuses[code] = statuses.get(code, 0) + 1
    failed_during = during["pushFailures"] - before["pushFailures"]
    result.update(
        cut_at_s=cut_at,
        outage_s=outage,
        push_failures_during_outage=failed_during,
        web_statuses=statuses,
        seconds=round(time.monotonic() - start, 1),
    )
    result["ok"] = result["ok"] and failed_during > 0
    return result


def drill_nodes(stack: Stack, kills: int, rng: random.Random) -> dict:
    """Two worker nodes on one broker and database send one campaign; one of them dies."""
    stack.fresh()
    stack.sandbox.configure(slow_ms=30, slow_rate=1.0)
    stack.worker.stop()  # the stack's single worker makes way for the two nodes
    nodes = {name: stack.start_worker(name) for name in NODES}
    cpu = dict.fromkeys(NODES, 0.0)  # CPU of each node's pool children, over its restarts
    start = time.monotonic()
    kills_at: list[dict] = []
    try:
        campaign_id = stack.launch("drill two nodes")
        for k in range(kills):
            # Mid-way: once the sandbox has accepted ~40 % (then 60 %, …) of the recipients.
            target = stack.size * min(0.9, 0.4 + 0.2 * k)
            _wait(
                lambda t=target: stack.sandbox.state()["accepted"]["total"] >= t,
                timeout=max(300, stack.size / 100),
                what="kill point",
                interval=0.05,
            )
            victim = rng.choice(NODES)
            cpu[victim] += h.children_cpu_s(nodes[victim].pid)
            kills_at.append(
                {
                    "node": victim,
                    "s": round(time.monotonic() - start, 2),
                    "accepted": stack.sandbox.state()["accepted"]["total"],
                }
            )
            nodes[victim].kill()
            time.sleep(rng.uniform(0.1, 1.0))
            nodes[victim] = stack.start_worker(victim)
        _wait(lambda: _handed(campaign_id), timeout=max(300, stack.size / 100), what="all handed")
        for name, proc in nodes.items():
            cpu[name] += h.children_cpu_s(proc.pid)
    finally:
        # node1 stays on as the stack's worker (one start fewer); node2 goes.
        for name, proc in nodes.items():
            if name != NODES[0] or not proc.alive:
                proc.stop()
        first = nodes[NODES[0]]
        stack.worker = first if first.alive else stack.start_worker()
    result = exactly_once(stack, campaign_id)
    result.update(
        {
            "node_kills": kills_at,
            "node_pool_cpu_s": {k: round(v, 2) for k, v in cpu.items()},
            "seconds": round(time.monotonic() - start, 1),
        }
    )
    # Two nodes of which one sat idle would prove nothing about scale-out.
    result["ok"] = result["ok"] and all(v >= 0.05 for v in cpu.values())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=100_000, help="recipients in drill 5")
    parser.add_argument("--small-size", type=int, default=20_000, help="recipients in 6–8")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument(
        "--kill-gap",
        type=float,
        default=8.0,
        help="kills come 0.5–GAP s apart (scale it to the run's length)",
    )
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--broker-outage", type=float, default=30.0, help="drill 11 (s)")
    parser.add_argument("--pg-outage", type=float, default=10.0, help="drill 12 (s)")
    parser.add_argument(
        "--outage-speed", type=int, default=500, help="drills 11–12: the campaign's msg/s"
    )
    parser.add_argument("--drills", default="5,6,7,8,9,10,11,12")
    parser.add_argument("--node-kills", type=int, default=1, help="kills of one node in drill 9")
    parser.add_argument("--name", default="drill", help="stem of the bench/results/ files")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--broker-db", type=int, default=14)
    parser.add_argument("--broker-url", default="", help="instead of CELERY_BROKER_URL on db 14")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=0,
        help="HERALD_BATCH_SIZE (default: the production 1,000)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line per drill")
    parser.add_argument("--kills-journeys", type=int, default=3, help="kills in drill 10")
    parser.add_argument(
        "--no-record", dest="record", action="store_false", help="do not write bench/results/"
    )
    parser.add_argument(
        "--worker-include",
        default="",
        help="modules the worker also imports (celery -I), e.g. to try a fix",
    )
    args = parser.parse_args(argv)
    h.stop_on_sigterm()
    global WORKER_INCLUDE, KILL_GAP
    WORKER_INCLUDE, KILL_GAP = args.worker_include, args.kill_gap
    if args.batch_size:
        KNOBS["HERALD_BATCH_SIZE"] = args.batch_size
    wanted = {int(d) for d in args.drills.split(",")}
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)
    broker = args.broker_url or h.broker_url(args.broker_db)
    logs = Path(tempfile.mkdtemp(prefix="herald-drill-"))
    results = []
    plan = [(5, args.size), *((d, args.small_size) for d in (6, 7, 8)), (9, args.size)]
    # Drill 10 (journeys) runs on its own, after these; 11 and 12 on a stack behind proxies.
    plan += [(11, args.small_size), (12, args.small_size)]
    groups = sorted({(size, d >= OUTAGE_DRILLS) for d, size in plan if d in wanted})
    for size, outages in groups:
        todo = [d for d, s in plan if s == size and d in wanted and (d >= OUTAGE_DRILLS) == outages]
        web = bool({7, 8} & set(todo)) or outages
        stack = Stack(size, broker, logs, web=web, proxy=8 in todo, outages=outages)
        try:
            for d in todo:
                load = h.loadavg()
                try:
                    if d == 5:
                        r = drill_kill(stack, args.kills, rng)
                    elif d == 6:
                        r = drill_storm(stack)
                    elif d == 7:
                        r = drill_reports(stack)
                    elif d == 9:
                        r = drill_nodes(stack, args.node_kills, rng)
                    elif d == 11:
                        r = outage_drills.drill_broker_down(
                            stack, args.broker_outage, args.outage_speed
                        )
                    elif d == 12:
                        r = outage_drills.drill_pg_restart(stack, args.pg_outage, args.outage_speed)
                    else:
                        r = drill_db_down(stack, args.outage)
                except Exception as exc:  # a drill that cannot finish has failed
                    r = {
                        "ok": False,
                        "error": f"{type(exc).__name__}: {exc}",
                        "worker_log": stack.worker.tail(15),
                    }
                r = {"drill": d, "size": size, "seed": seed, "loadavg_before": load, **r}
                results.append(r)
                print(json.dumps(r) if args.json else _line(r), flush=True)
        finally:
            stack.close()
    if 10 in wanted:
        results.append(drill_journeys(args.size, args.kills_journeys, seed, args.json))
    failed = [r["drill"] for r in results if not r["ok"]]
    print(f"drills {'FAILED: ' + str(failed) if failed else 'passed'} (logs in {logs})")
    if args.record:
        _record(results, argv if argv is not None else sys.argv[1:], args.name)
    return 1 if failed else 0


def _record(results: list[dict], argv: list[str], stem: str = "drill") -> None:
    """Write bench/results/<stem>-YYYY-MM-DD.{json,md} (docs/BENCHMARKS.md quotes the latest)."""
    out = h.ROOT / "bench" / "results"
    stamp = dt.datetime.now(dt.UTC)
    name = f"{stem}-{stamp:%Y-%m-%d}"
    (out / f"{name}.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    lines = [
        f"# Herald fault drills — {stamp:%Y-%m-%dT%H:%M:%S}+00:00",
        "",
        f"Machine: {h.machine()}",
        "",
        f"Command: `python -m bench.drill {' '.join(argv)}`",
        "",
    ]
    lines += [f"- {_line(r)} (load before: {r['loadavg_before'][0]})" for r in results]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


NAMES = {
    5: "kill -9",
    6: "provider storms",
    7: "report chaos",
    8: "database down",
    9: "two worker nodes",
    10: "journeys under kill -9",
    11: "broker down",
    12: "PostgreSQL restart",
}
OUTAGE_DRILLS = 11  # drills from here on run on a stack behind proxies (bench/outages.py)


def drill_journeys(size: int, kills: int, seed: int, as_json: bool) -> dict:
    """Drill 10 (bench/journeys.py): kill -9 the worker while `size` due journey steps run."""
    load = h.loadavg()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.journeys",
            "--part",
            "drill",
            "--size",
            str(size),
            "--seed",
            str(seed),
        ],
        cwd=h.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    found = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    record = found[-1] if found else {"ok": False, "error": proc.stderr[-2000:]}
    r = {
        "drill": 10,
        "size": size,
        "seed": seed,
        "loadavg_before": load,
        **record,
        "sandbox_duplicates": record.get("duplicates"),
    }
    r["drill"] = 10
    print(json.dumps(r) if as_json else _line(r), flush=True)
    return r


def _line(r: dict) -> str:
    status = "PASS" if r["ok"] else "FAIL"
    keys = (
        "sandbox_accepted",
        "sandbox_duplicates",
        "mismatches",
        "compared",
        "counters_match",
        "kills_at_s",
        "node_kills",
        "node_pool_cpu_s",
        "push_failures_during_outage",
        "faults",
        "resume_s",
        "api_statuses",
        "worker_alive",
        "seconds",
        "error",
        "entries_left_active",
        "entries_with_a_bad_ledger",
        "contacts_with_two_messages",
        "counters_consistent",
        "killed_at_ledger_rows",
    )
    detail = ", ".join(f"{k}={r[k]}" for k in keys if k in r)
    return f"{status} {r['drill']} {NAMES[r['drill']]} ({r['size']:,} recipients): {detail}"


if __name__ == "__main__":
    sys.exit(main())
