"""How the embedded PostgreSQL (core/embedded_pg.py) starts, stops and recovers: the figures of
docs/DATABASE.md. Usage: python -m bench.embedded_pg [--cycles 30]

In a scratch directory: the first start (initdb + start), `--cycles` start/query/stop cycles,
a `kill -9` of the postmaster with a committed table then a start (crash recovery, rows kept),
and two instances — two checkouts — started, queried and stopped at the same moment.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path

from core import embedded_pg


def _query(directory: Path, text: str = "SELECT 1") -> object:
    with embedded_pg.connect(directory) as conn:
        row = conn.execute(text).fetchone()
        return row[0] if row else None


def _pid_gone(pid: int, timeout: float = 60) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    return time.perf_counter() - start


def main() -> None:
    """Run each check and print one JSON document."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=30)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="herald-embedded-pg-"))
    base.chmod(0o755)  # as root the server runs as `postgres`, which must reach it
    out: dict[str, object] = {"load_average": os.getloadavg()}
    one = base / "one"
    try:
        t = time.perf_counter()
        embedded_pg.start(one)
        out["first_start_s"] = round(time.perf_counter() - t, 3)
        out["version"] = str(_query(one, "SHOW server_version"))
        embedded_pg.stop(one)

        starts, stops, failures = [], [], 0
        for _ in range(args.cycles):
            try:
                t = time.perf_counter()
                embedded_pg.start(one)
                _query(one)
                starts.append(time.perf_counter() - t)
                t = time.perf_counter()
                embedded_pg.stop(one)
                stops.append(time.perf_counter() - t)
            except Exception as exc:  # counted and shown
                failures += 1
                print("cycle failed:", exc)
        out["cycles"] = {
            "n": args.cycles,
            "failures": failures,
            "start_median_s": round(statistics.median(starts), 3),
            "start_max_s": round(max(starts), 3),
            "stop_median_s": round(statistics.median(stops), 3),
        }

        embedded_pg.start(one)
        with embedded_pg.connect(one) as conn:
            conn.execute("CREATE TABLE kept AS SELECT generate_series(1, 1000) AS n")
        pid = embedded_pg._postmaster_pid(one / "data")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        t = time.perf_counter()
        embedded_pg.start(one)  # waits for the killed postmaster to be gone, then recovers
        out["kill_9"] = {
            "restart_s": round(time.perf_counter() - t, 3),
            "rows_kept": _query(one, "SELECT count(*) FROM kept"),
        }
        embedded_pg.stop(one)

        results: dict[str, object] = {}

        def checkout(name: str) -> None:
            directory = base / name
            t = time.perf_counter()
            try:
                embedded_pg.start(directory)
                embedded_pg.create_database(directory)
                results[name] = {"ok": _query(directory) == 1, "s": time.perf_counter() - t}
            finally:
                embedded_pg.stop(directory)

        threads = [threading.Thread(target=checkout, args=(n,)) for n in ("x", "y")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        out["two_at_once"] = results
    finally:
        for directory in base.iterdir():
            if directory.is_dir():
                embedded_pg.stop(directory)
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
