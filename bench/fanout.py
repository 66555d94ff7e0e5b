"""Benchmarks 1 and 2 at one size: SMS fan-out (engine, floor, naive) and report ingestion.

`python -m bench.fanout --size N --runs R [--naive] [--no-reports]` prints one JSON line per
measurement. Per run, side by side on the same machine state:

- engine: launch an N-recipient SMS campaign → every recipient accepted by the sandbox and
  recorded in the ledger (a fresh 2-process prefork worker per run; its peak RSS is the sum of
  each process's own VmHWM);
- reports (after the engine run): the sandbox pushes the reports of all N messages in batches
  of 100, each batch twice, to gunicorn (2 workers); end when the ledger holds N final states;
- floor: bench/floor.py, the same request bodies and a COPY of the same rows, one process;
- naive (--naive, meant for 10k): bench/naive.py, one task and one request per recipient.
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench import harness as h
from bench.data import make_audience, reset_ledger

FINAL = ("count_delivered", "count_undeliverable", "count_expired", "count_rejected")


def _emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def _wait(predicate, timeout: float, interval: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what}: not done after {timeout:.0f}s")


def measure_engine(list_id: int, size: int, sandbox: h.Sandbox, worker: h.Process) -> dict:
    from campaigns.models import Campaign
    from campaigns.services import campaign_create, campaign_launch
    from contacts.models import ContactList
    from core.rules import OPERATOR

    campaign = campaign_create(
        name=f"bench {size}",
        channel="sms",
        lists=[ContactList.objects.get(pk=list_id)],
        text=h.TEXT,
    )
    idle_hwm, _ = h.tree_hwm_mb(worker.pid)
    sampler = h.PssSampler(worker.pid)
    sampler.start()
    # Where the CPU goes per message (the launch itself runs here, in the bench's process).
    meter = CpuMeter(
        {"worker": worker.pid, "postgres": _postmaster_pid(), "sandbox": sandbox.proc.pid}
    )
    load = h.loadavg()
    meter.start()
    own = _own_cpu_s()
    start = time.perf_counter()
    campaign_launch(campaign=campaign, actor=OPERATOR)

    def done():
        c = Campaign.objects.values("frozen_at", "count_queued", "count_sending").get(
            pk=campaign.pk
        )
        return c["frozen_at"] and not c["count_queued"] and not c["count_sending"]

    try:
        _wait(done, timeout=max(120, size / 200), interval=0.02, what="fan-out")
    finally:
        peak_pss = sampler.stop()
    elapsed = time.perf_counter() - start
    cpu = meter.stop(size, "message", {"bench (launch, polling)": _own_cpu_s() - own})
    hwm, per_process = h.tree_hwm_mb(worker.pid)
    state = sandbox.state()
    c = Campaign.objects.get(pk=campaign.pk)
    return {
        "campaign_id": campaign.pk,
        "recipients": size,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(size / elapsed),
        "worker_peak_rss_mb": hwm,
        "worker_processes_hwm_mb": list(per_process.values()),
        "worker_idle_hwm_mb": idle_hwm,
        "worker_peak_pss_mb": peak_pss,
        "sandbox_accepted": state["accepted"]["total"],
        "sandbox_duplicates": state["duplicates"],
        "ledger_accepted": c.count_accepted,
        "ok": state["accepted"]["total"] == size
        and c.count_accepted == size
        and not any(state["duplicates"].values()),
        "loadavg_before": load,
        **cpu,
    }


def _truth_bodies(sandbox: h.Sandbox, count: int) -> list[bytes]:
    """Report batches of 100 in the sandbox's shape, built from its truth (for the probe)."""
    import orjson

    from infobip.sandbox.codes import ERROR_OBJECTS, STATUS_OBJECTS, price, timestamp

    params = {"offset": 0, "limit": count * 100}
    page = sandbox.http.get(f"{sandbox.url}/_sandbox/messages", params=params, timeout=60).json()
    items = [
        {
            "bulkId": t["bulkId"] or "",
            "price": price(t["price"], "EUR"),
            "status": STATUS_OBJECTS[t["status"]],
            "error": ERROR_OBJECTS[t["error"]],
            "messageId": t["messageId"],
            "to": t["to"],
            "sender": t["sender"],
            "sentAt": timestamp(t["acceptedAt"]),
            "doneAt": timestamp(time.time()),
            "messageCount": t["messageCount"],
            "callbackData": t["callbackData"],
        }
        for t in page["results"]
    ]
    return [orjson.dumps({"results": items[i : i + 100]}) for i in range(0, len(items), 100)]


class Probe(threading.Thread):
    """Replays sandbox report batches every `interval` s and times each POST (client side)."""

    def __init__(self, url: str, bodies: list[bytes], interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.url, self.bodies, self.interval = url, bodies, interval
        self.latencies_ms: list[float] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set() and self.bodies:
            body = self.bodies[n % len(self.bodies)]
            n += 1
            t = time.perf_counter()
            try:
                r = requests.post(
                    self.url, data=body, timeout=30, headers={"Content-Type": "application/json"}
                )
                ok = r.status_code == 200
            except requests.RequestException:
                ok = False
            self.latencies_ms.append((time.perf_counter() - t) * 1000)
            self.errors += not ok
            self.stop.wait(self.interval)


def percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    values = sorted(values)

    def pct(p: float) -> float:
        return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 1)

    return {
        "n": len(values),
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": round(values[-1], 1),
    }


def _server_times(access_log: Path, offset: int) -> tuple[list[float], dict[str, int]]:
    times, statuses = [], {}
    with access_log.open() as fh:
        fh.seek(offset)
        for line in fh:
            parts = line.split()
            if len(parts) >= 3 and "/infobip/webhooks/" in parts[2]:
                times.append(int(parts[1]) / 1000)
                statuses[parts[0]] = statuses.get(parts[0], 0) + 1
    return times, statuses


def _tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of `pid` and its descendants (and reaped ones), from /proc."""
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            if p == pid:  # children that exited meanwhile (PostgreSQL backends) count here
                total += (int(fields[13]) + int(fields[14])) / tick
            for task in Path(f"/proc/{p}/task").glob("*"):
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def _postmaster_pid() -> int | None:
    """The PostgreSQL server's process (when it runs on this machine), for its CPU time."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            data = Path(cursor.fetchone()[0])
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    """CPU seconds each named process tree spent between `start()` and `stop()`.

    The machine is shared, so wall time alone says little: CPU per report, split between
    the web server, the worker, PostgreSQL and the sandbox, holds under load.
    """

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: _tree_cpu_s(pid) for name, pid in self.pids.items()}

    def stop(self, per: int, unit: str = "report", extra: dict[str, float] | None = None) -> dict:
        spent = {name: _tree_cpu_s(pid) - self.before[name] for name, pid in self.pids.items()}
        spent.update(extra or {})
        return {
            "cpu_s": {name: round(v, 2) for name, v in spent.items()},
            f"cpu_us_per_{unit}": {name: round(v / per * 1e6, 1) for name, v in spent.items()},
        }


def _own_cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure_reports(
    campaign_id: int,
    size: int,
    sandbox: h.Sandbox,
    web_url: str,
    access_log: Path,
    pids: dict | None = None,
) -> dict:
    from campaigns.models import Campaign

    sandbox.configure(duplicate_pushes=1.0, push_batch=100)
    probe = Probe(
        f"{web_url}/infobip/webhooks/{h.WEBHOOK_TOKEN}/sms/reports/", _truth_bodies(sandbox, 10)
    )
    offset = access_log.stat().st_size if access_log.exists() else 0
    meter = CpuMeter(pids or {})
    load = h.loadavg()
    meter.start()
    start = time.perf_counter()
    flusher = threading.Thread(
        target=lambda: sandbox.control("POST", "flush", {"timeout": 60}), daemon=True
    )
    flusher.start()
    probe.start()

    def done():
        c = Campaign.objects.values(*FINAL).get(pk=campaign_id)
        return sum(c.values()) >= size

    try:
        _wait(done, timeout=max(120, size / 200), interval=0.02, what="report ingestion")
    finally:
        probe.stop.set()
        probe.join()
    elapsed = time.perf_counter() - start
    cpu = meter.stop(size)
    flusher.join(timeout=120)
    state = sandbox.state()
    sandbox.configure(duplicate_pushes=0.0)
    time.sleep(0.5)  # the access log is written after each response
    server, statuses = _server_times(access_log, offset)
    return {
        "campaign_id": campaign_id,
        "reports": size,
        "pushed": state["reports"]["pushed"],
        "push_requests": state["reports"]["pushRequests"],
        "push_failures": state["reports"]["pushFailures"],
        "seconds": round(elapsed, 3),
        "reports_applied_per_s": round(size / elapsed),
        "probe_latency_ms": percentiles(probe.latencies_ms),
        "probe_errors": probe.errors,
        "server_time_ms": percentiles(server),
        "webhook_statuses": statuses,
        "ok": state["reports"]["pushed"] >= 2 * size and probe.errors == 0,
        "loadavg_before": load,
        **cpu,
    }


def measure_events(
    db: str,
    list_id: int,
    size: int,
    sandbox: h.Sandbox,
    web: h.Process,
    web_url: str,
    logs: Path,
    env: dict,
) -> dict:
    """The report pass again, with a message.final subscription to a receiver in this process."""
    from django.db import connection

    from api.models import EventDelivery
    from bench.events import Receiver, subscribe

    connection.close()
    reset_ledger(db)
    h.pg("TRUNCATE api_eventsubscription, api_eventdelivery, api_deliveryattempt CASCADE", db)
    h.redis_flush(h.broker_url(13))
    sandbox.reset()
    receiver = Receiver()
    receiver.start()
    _, receiver.secret = subscribe(receiver.url)
    worker = h.worker(env, logs / "worker-events.log")
    try:
        engine = measure_engine(list_id, size, sandbox, worker)
        pids = {
            "web": web.pid,
            "worker": worker.pid,
            "postgres": _postmaster_pid(),
            "sandbox": sandbox.proc.pid,
        }
        start = time.perf_counter()
        reports = measure_reports(
            engine["campaign_id"], size, sandbox, web_url, logs / "access.log", pids
        )
        delivered = receiver.wait_for(size, timeout=max(300, size / 50))
        all_in = (receiver.last_at - start) if delivered else None
        rows = EventDelivery.objects.count()
    finally:
        worker.stop()
        receiver.stop()
    return {
        "reports": reports,
        "fanout_ok": engine["ok"],
        "events_expected": size,
        "events_received": len(receiver.ids),
        "messages_in_events": len(receiver.message_ids),
        "posts": receiver.posts,
        "bad_signatures": receiver.bad_signatures,
        "outbox_rows": rows,
        "seconds_to_all_events": round(all_in, 3) if all_in is not None else None,
        "events_per_s": round(size / all_in) if all_in else None,
        "ok": delivered and receiver.bad_signatures == 0 and len(receiver.message_ids) == size,
    }


def measure_floor(db_url: str, size: int, sandbox: h.Sandbox, notify_url: str) -> dict:
    import subprocess

    sandbox.reset()
    meter = CpuMeter({"postgres": _postmaster_pid(), "sandbox": sandbox.proc.pid})
    load = h.loadavg()
    meter.start()
    children = _own_cpu_s(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.floor",
            "--db",
            db_url,
            "--sandbox",
            sandbox.url,
            "--key",
            h.SANDBOX_KEY,
            "--size",
            str(size),
            "--notify-url",
            notify_url,
        ],
        cwd=h.ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    floor_cpu = _own_cpu_s(resource.RUSAGE_CHILDREN) - children
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(meter.stop(size, "message", {"floor": floor_cpu}))
    state = sandbox.state()
    result["sandbox_accepted"] = state["accepted"]["total"]
    result["ok"] = state["accepted"]["total"] == size and result["rows"] == size
    result["loadavg_before"] = load
    return result


def measure_naive(size: int, sandbox: h.Sandbox, worker: h.Process) -> dict:
    from bench.naive import send_one
    from campaigns.models import Campaign, Message
    from contacts.models import Contact

    campaign = Campaign.objects.create(name="naive", channel="sms", text=h.TEXT, state="running")
    ids = list(Contact.objects.order_by("id").values_list("id", flat=True)[:size])
    load = h.loadavg()
    start = time.perf_counter()
    for contact_id in ids:
        send_one.apply_async((campaign.pk, contact_id))
    enqueued = time.perf_counter() - start
    _wait(
        lambda: Message.objects.filter(campaign=campaign, state="accepted").count() >= size,
        timeout=max(300, size / 20),
        interval=0.25,
        what="naive",
    )
    elapsed = time.perf_counter() - start
    hwm, _ = h.tree_hwm_mb(worker.pid)
    state = sandbox.state()
    return {
        "recipients": size,
        "seconds": round(elapsed, 3),
        "enqueue_seconds": round(enqueued, 3),
        "messages_per_s": round(size / elapsed),
        "worker_peak_rss_mb": hwm,
        "sandbox_accepted": state["accepted"]["total"],
        "ok": state["accepted"]["total"] == size,
        "loadavg_before": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive", action="store_true", help="also the naive baseline")
    parser.add_argument("--naive-runs", type=int, default=1, help="runs that include it")
    parser.add_argument("--no-reports", action="store_true")
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument(
        "--events", action="store_true", help="a second report pass with a message.final receiver"
    )
    args = parser.parse_args(argv)
    h.stop_on_sigterm()
    size = args.size
    db = f"herald_bench_{size}"
    broker = h.broker_url(13)
    logs = Path(tempfile.mkdtemp(prefix=f"herald-bench-{size}-"))
    url = h.create_db(db)
    sandbox = web = None
    try:
        list_id = make_audience(db, size)
        # Reports are held back during fan-out (pushed on demand by the report benchmark).
        sandbox = h.Sandbox(
            logs / "sandbox.log",
            ["--push-delay", "86400", "--push-jitter", "0", "--seen-rate", "0"],
        )
        port = h.free_port()
        web_url = f"http://127.0.0.1:{port}"
        extra = {
            "INFOBIP_SANDBOX_URL": sandbox.url,
            "PUBLIC_BASE_URL": web_url,
            "HERALD_EVENTS_ALLOW_PRIVATE": "true",
        }
        env = h.django_env(url, broker, **extra)
        h.setup_django(url, broker, **extra)
        notify_url = f"{web_url}/infobip/webhooks/{h.WEBHOOK_TOKEN}/sms/reports/"
        if not args.no_reports:
            web = h.gunicorn(env, port, logs / "web.log", logs / "access.log")
        for run in range(args.runs):
            from django.db import connection

            connection.close()
            reset_ledger(db)
            h.redis_flush(broker)
            sandbox.reset()
            worker = h.worker(env, logs / "worker.log")
            try:
                engine = measure_engine(list_id, size, sandbox, worker)
                _emit({"bench": "fanout_engine", "size": size, "run": run, **engine})
                if not args.no_reports:
                    pids = {
                        "web": web.pid if web else None,
                        "worker": worker.pid,
                        "postgres": _postmaster_pid(),
                        "sandbox": sandbox.proc.pid,
                    }
                    reports = measure_reports(
                        engine["campaign_id"], size, sandbox, web_url, logs / "access.log", pids
                    )
                    _emit({"bench": "reports", "size": size, "run": run, **reports})
            finally:
                worker.stop()
            if args.events and not args.no_reports:
                events = measure_events(db, list_id, size, sandbox, web, web_url, logs, env)
                events["ingestion_ratio"] = round(
                    events["reports"]["seconds"] / reports["seconds"], 3
                )
                _emit({"bench": "events", "size": size, "run": run, **events})
            if not args.no_floor:
                floor = measure_floor(url, size, sandbox, notify_url)
                _emit({"bench": "fanout_floor", "size": size, "run": run, **floor})
            if args.naive and run < args.naive_runs:
                connection.close()
                reset_ledger(db)
                h.redis_flush(broker)
                sandbox.reset()
                worker = h.worker(env, logs / "worker-naive.log", include="bench.naive")
                try:
                    naive = measure_naive(size, sandbox, worker)
                    _emit({"bench": "fanout_naive", "size": size, "run": run, **naive})
                finally:
                    worker.stop()
    finally:
        if web:
            web.stop()
        if sandbox:
            sandbox.stop()
        from django.db import connections

        connections.close_all()
        h.drop_db(db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
