"""Measure the embedded broker candidates: tasks/s end to end through a real worker.

Compares kombu's filesystem transport (Herald's no-server default) and Redis when it is
reachable, with the same no-op task and a 2-process prefork worker (the no-op task touches no
database). Usage: python -m bench.broker [--tasks N]
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCER = """
import time, sys
from config.celery import app
n = int(sys.argv[1])
sig = app.signature("bench.noop")
t = time.perf_counter()
for i in range(n):
    sig.apply_async(args=[i])
print(time.perf_counter() - t)
"""


def _env(broker: str, tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HERALD_READ_DOTENV": "false",
        "DEBUG": "true",
        "CELERY_BROKER_URL": broker,
        "CELERY_BROKER_DIR": str(tmp / "broker"),
    }


def measure(name: str, broker: str, tasks: int) -> dict:
    """Enqueue `tasks` no-op tasks, then time until the worker has acknowledged all of them."""
    tmp = Path(tempfile.mkdtemp(prefix=f"herald-broker-{name}-"))
    env = _env(broker, tmp)
    done_file = tmp / "done"
    env["BENCH_DONE_FILE"] = str(done_file)
    enqueue = subprocess.run(
        [sys.executable, "-c", PRODUCER, str(tasks)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    enqueue_s = float(enqueue.stdout.strip().splitlines()[-1])
    celery = str(Path(sys.executable).with_name("celery"))
    start = time.perf_counter()
    worker = subprocess.Popen(
        [
            celery,
            "-A",
            "config",
            "worker",
            "-c",
            "2",
            "-l",
            "warning",
            "--without-mingle",
            "--without-gossip",
            "-I",
            "bench.noop_task",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while True:
            count = len(done_file.read_text().split()) if done_file.exists() else 0
            if count >= tasks:
                break
            if time.perf_counter() - start > 300:
                raise TimeoutError(f"{name}: only {count}/{tasks} tasks ran")
            time.sleep(0.05)
        consume_s = time.perf_counter() - start
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "broker": name,
        "tasks": tasks,
        "enqueue_per_s": round(tasks / enqueue_s),
        "end_to_end_per_s": round(tasks / consume_s),
    }


def main() -> None:
    """Run each available broker and print/write the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6399/15")
    args = parser.parse_args()
    results = [measure("filesystem", "filesystem://", args.tasks)]
    if subprocess.run(["redis-cli", "-u", args.redis, "ping"], capture_output=True).returncode == 0:
        results.append(measure("redis", args.redis, args.tasks))
    for row in results:
        print(
            f"{row['broker']:>18}: enqueue {row['enqueue_per_s']:>6}/s, "
            f"end to end {row['end_to_end_per_s']:>6}/s ({row['tasks']} no-op tasks)"
        )
    out = ROOT / "bench" / "results" / f"broker-{time.strftime('%Y-%m-%d')}.json"
    out.write_text(json.dumps({"machine": os.uname().nodename, "results": results}, indent=2))


if __name__ == "__main__":
    main()
