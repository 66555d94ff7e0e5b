"""One unprocessable push in a burst of 300 (issue 24 #10): no slower than the burst without it.

`python -m bench.poison [--pushes 300] [--reports 10] [--runs 3]` prints one JSON line per
run and a summary line. Each run: a fresh campaign of pushes × reports recipients sent to the
sandbox (reports held back), then the reports pushed to gunicorn's webhook by 8 threads, as
`pushes` pushes of `reports` each, with a worker taking every queue; with the poison, one more
stored push whose body cannot be parsed (what a parser bug would make of any push) is stored
right after the first push, so it lands in the first coalesced batches. The figure: seconds
from the first push until every valid push is processed, with / without, alternated run by
run; the target is ≤ 1.2× (issue 24: 3.5 s → 31.9 s before the fix).
"""

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import requests

from bench import harness as h
from bench.data import make_audience, reset_ledger

KNOBS = {"HERALD_WEBHOOK_BACKLOG_INTERVAL": 60, "WHATSAPP_TEMPLATE_SYNC_INTERVAL": 0}
THREADS = 8


def _bodies(sandbox: h.Sandbox, total: int, per_push: int) -> list[bytes]:
    """Report pushes in Infobip's shape, built from the sandbox's truth."""
    from infobip.sandbox.codes import ERROR_OBJECTS, STATUS_OBJECTS, price, timestamp

    page = sandbox.http.get(
        f"{sandbox.url}/_sandbox/messages", params={"offset": 0, "limit": total}, timeout=60
    ).json()
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
    return [
        orjson.dumps({"results": items[i : i + per_push]}) for i in range(0, len(items), per_push)
    ]


def _store_poison(db: str) -> None:
    """A stored push whose body cannot be parsed (the view would not store it; a bug might)."""
    import psycopg

    body = '{"results": [unparseable'
    digest = hashlib.sha256(body.encode()).hexdigest()
    with psycopg.connect(h.db_url(db), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO infobip_webhookevent (kind, received_at, body, content_hash, items,"
            " source_ip, status, attempts, error)"
            " VALUES ('sms_reports', now(), %s, %s, 1, NULL, 'received', 0, '')",
            [body, digest],
        )


def _processed(db: str) -> int:
    rows = h.pg(
        "SELECT count(*) FROM infobip_webhookevent WHERE status IN ('processed', 'duplicate')"
        " AND body NOT LIKE '%unparseable%'",
        db,
        fetch=True,
    )
    return int(rows[0][0])


def run_once(
    db: str, list_id: int, sandbox: h.Sandbox, url: str, pushes: int, per_push: int, poison: bool
) -> dict:
    """One fan-out, then the burst of pushes (and the poison); seconds until all processed."""
    from django.db import connection

    from campaigns.models import Campaign
    from campaigns.services import campaign_create, campaign_launch
    from contacts.models import ContactList
    from core.rules import OPERATOR

    connection.close()
    reset_ledger(db)
    sandbox.reset()
    size = pushes * per_push
    campaign = campaign_create(
        name=f"poison {poison}",
        channel="sms",
        text=h.TEXT,
        lists=[ContactList.objects.get(pk=list_id)],
    )
    campaign_launch(campaign=campaign, actor=OPERATOR)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        c = Campaign.objects.values("frozen_at", "count_queued").get(pk=campaign.pk)
        if (
            c["frozen_at"]
            and not c["count_queued"]
            and sandbox.state()["accepted"]["total"] >= size
        ):
            break
        time.sleep(0.1)
    bodies = _bodies(sandbox, size, per_push)
    session = requests.Session()
    first = threading.Event()
    failures: list[int] = []
    lock = threading.Lock()
    queue = list(enumerate(bodies))

    def push() -> None:
        while True:
            with lock:
                if not queue:
                    return
                index, body = queue.pop(0)
            answer = session.post(
                url, data=body, timeout=30, headers={"Content-Type": "application/json"}
            )
            if answer.status_code != 200:
                failures.append(answer.status_code)
            if index == 0:
                first.set()

    load = h.loadavg()
    start = time.perf_counter()
    threads = [threading.Thread(target=push, daemon=True) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    if poison:
        first.wait(timeout=30)
        _store_poison(db)
    for thread in threads:
        thread.join()
    while _processed(db) < len(bodies) and time.perf_counter() - start < 300:
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    return {
        "bench": "poison",
        "poison": poison,
        "pushes": len(bodies),
        "reports": size,
        "seconds": round(seconds, 3),
        "processed": _processed(db),
        "push_failures": len(failures),
        "loadavg_before": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pushes", type=int, default=300)
    parser.add_argument("--reports", type=int, default=10, help="reports per push")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    h.stop_on_sigterm()
    logs = Path(tempfile.mkdtemp(prefix="herald-poison-"))
    db = "herald_bench_poison"
    url = h.create_db(db)
    list_id = make_audience(db, args.pushes * args.reports)
    broker = h.broker_url(10)
    sandbox = h.Sandbox(logs / "sandbox.log", ["--push-delay", "86400"])
    port = h.free_port()
    extra = {
        "INFOBIP_SANDBOX_URL": sandbox.url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "HERALD_CACHE_URL": broker.rsplit("/", 1)[0] + "/9",
        **KNOBS,
    }
    env = h.django_env(url, broker, **extra)
    h.setup_django(url, broker, **extra)
    h.redis_flush(broker)
    web = h.gunicorn(env, port, logs / "web.log", logs / "access.log")
    worker = h.worker(env, logs / "worker.log")
    beat = h.Process(
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
        env,
        logs / "beat.log",
    ).start()
    webhook = f"http://127.0.0.1:{port}/infobip/webhooks/{h.WEBHOOK_TOKEN}/sms/reports/"
    ratios = []
    try:
        for run in range(args.runs):
            pair = {}
            for poison in (False, True) if run % 2 == 0 else (True, False):
                record = run_once(db, list_id, sandbox, webhook, args.pushes, args.reports, poison)
                record["run"] = run
                pair[poison] = record
                print(json.dumps(record), flush=True)
            ratios.append(pair[True]["seconds"] / pair[False]["seconds"])
        median = round(statistics.median(ratios), 3)
        print(
            json.dumps(
                {
                    "bench": "poison_ratio",
                    "pushes": args.pushes,
                    "ratios": [round(r, 3) for r in ratios],
                    "median_ratio": median,
                }
            ),
            flush=True,
        )
    finally:
        for proc in (beat, worker, web):
            proc.stop()
        sandbox.stop()
        from django.db import connections

        connections.close_all()
        h.drop_db(db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
