"""CPU time per sent message, by process: the send path in one process, for a loaded machine.

`python -m bench.send_loop --size 50000 --runs 3` freezes an N-recipient SMS campaign (the
fan-out benchmark's audience and text, untimed), then calls `campaign_send_batch` in a loop
until nothing is left, and reads the CPU time (user + system, /proc) of this process, of its
PostgreSQL backend and of the sandbox, over the loop only. Wall-clock throughput moves with
whatever else the machine runs; CPU time per message moves far less, so this is the figure for
before → after comparisons of the send path when the machine is shared. One JSON line per run.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import harness as h
from bench.data import make_audience, reset_ledger

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run_once(list_id: int, size: int, sandbox: h.Sandbox) -> dict:
    from django.db import connection

    from campaigns.freeze import campaign_freeze
    from campaigns.models import Campaign
    from campaigns.sending import campaign_send_batch
    from campaigns.services import campaign_create
    from contacts.models import ContactList

    campaign = campaign_create(
        name=f"loop {size}",
        channel="sms",
        lists=[ContactList.objects.get(pk=list_id)],
        text=h.TEXT,
    )
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    campaign_freeze(campaign=campaign)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), pg_current_wal_lsn()")
        backend, wal_before = cursor.fetchone()
    load = h.loadavg()
    before = (time.process_time(), cpu_seconds(backend), cpu_seconds(sandbox.proc.pid))
    start = time.perf_counter()
    batches = 0
    while True:
        result = campaign_send_batch(campaign_id=campaign.pk)
        batches += 1
        if result.wait:
            time.sleep(result.wait)
        elif not result.claimed:
            break
    elapsed = time.perf_counter() - start
    after = (time.process_time(), cpu_seconds(backend), cpu_seconds(sandbox.proc.pid))
    with connection.cursor() as cursor:
        # WAL written by the loop (every backend): the database's write work, which unlike CPU
        # time does not move with the load of the machine.
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [wal_before])
        wal = float(cursor.fetchone()[0])
    c = Campaign.objects.get(pk=campaign.pk)
    state = sandbox.state()
    per = [round((a - b) * 1e6 / size, 1) for a, b in zip(after, before, strict=True)]
    return {
        "recipients": size,
        "batches": batches,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(size / elapsed),
        "worker_cpu_us_per_msg": per[0],
        "postgres_cpu_us_per_msg": per[1],
        "sandbox_cpu_us_per_msg": per[2],
        "total_cpu_us_per_msg": round(sum(per), 1),
        "wal_bytes_per_msg": round(wal / size),
        "ledger_accepted": c.count_accepted,
        "sandbox_accepted": state["accepted"]["total"],
        "ok": c.count_accepted == size
        and state["accepted"]["total"] == size
        and not any(state["duplicates"].values()),
        "loadavg_before": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", default="herald_bench_loop")
    args = parser.parse_args(argv)
    h.stop_on_sigterm()
    broker = h.broker_url(13)
    logs = Path(tempfile.mkdtemp(prefix="herald-send-loop-"))
    url = h.create_db(args.db)
    sandbox = None
    try:
        list_id = make_audience(args.db, args.size)
        sandbox = h.Sandbox(
            logs / "sandbox.log",
            ["--push-delay", "86400", "--push-jitter", "0", "--seen-rate", "0"],
        )
        h.setup_django(
            url, broker, INFOBIP_SANDBOX_URL=sandbox.url, PUBLIC_BASE_URL="http://127.0.0.1:9"
        )
        for run in range(args.runs):
            from django.db import connection

            connection.close()
            reset_ledger(args.db)
            sandbox.reset()
            result = run_once(list_id, args.size, sandbox)
            print(json.dumps({"bench": "send_loop", "run": run, **result}), flush=True)
    finally:
        if sandbox:
            sandbox.stop()
        from django.db import connections

        connections.close_all()
        h.drop_db(args.db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
