"""Benchmark 3: contact import of a generated CSV (mixed national/international, 2 % invalid).

`python -m bench.importer --size N --runs R` prints one JSON line per run. The file is generated
once per size with a fixed seed (distinct, non-consecutive numbers: i × a large odd constant
modulo the number space, so the importer's sequential-number guard is not tripped); each run
imports it into an empty contacts table of a fresh database with `manage.py import_contacts`
in its own process, whose peak RSS is read from wait4().
"""

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import harness as h
from bench.fanout import _tree_cpu_s

INVALID_SHARE = 0.02
INVALID = ["12345", "+44 20", "not a number", "+999 1234 5678", "0000", "+44 7911 12345678901"]
NAMES = ["Ann", "Bob", "Chloé", "Dariusz", "Eve", "Fatma", "Günter", "Hana", "Iñigo", "Jun"]


def _phone(i: int, rng: random.Random) -> str:
    """A valid mobile number in one of several formats (national GB or international)."""
    n = (i * 2_654_435_761) % 100_000_000  # distinct for i < 10^8, never consecutive runs
    kind = i % 6
    if kind == 0:
        return f"+44 79{n // 10000:04d} {n % 10000:04d}"[:16]
    if kind == 1:
        return f"079{n:08d}"[:5] + " " + f"{n:08d}"[2:]  # national GB: 07x xxxx xxxx
    if kind == 2:
        return f"0044 78{n:08d}"
    if kind == 3:
        return f"+49 151 {n:08d}"
    if kind == 4:
        m = n % 1_000_000
        return f"+33 6 12 {m // 10000:02d} {m // 100 % 100:02d} {m % 100:02d}"
    return f"+3467{n % 10_000_000:07d}"


def generate(path: Path, size: int, seed: int = 9) -> None:
    """Write the CSV: header + `size` rows, INVALID_SHARE of them with an invalid number."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["phone", "first_name", "last_name", "language", "tier"])
        for i in range(size):
            phone = rng.choice(INVALID) if rng.random() < INVALID_SHARE else _phone(i, rng)
            w.writerow(
                [
                    phone,
                    rng.choice(NAMES),
                    f"L{i}",
                    rng.choice(["en", "de", "fr", ""]),
                    rng.choice(["gold", "silver", ""]),
                ]
            )


def _postmaster_pid(db: str) -> int | None:
    """The PostgreSQL server's process, when it runs on this machine (for its CPU time)."""
    try:
        data = Path(h.pg("SHOW data_directory", db, fetch=True)[0][0])
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def run_once(db: str, path: Path, errors: Path) -> dict:
    url = h.create_db(db)
    env = h.django_env(url, h.broker_url(13))
    load = h.loadavg()
    postmaster = _postmaster_pid(db)
    db_cpu0 = _tree_cpu_s(postmaster) if postmaster else None
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "import_contacts",
            str(path),
            "--list",
            "bench-import",
            "--default-region",
            "GB",
            "--errors",
            str(errors),
            "--json",
        ],
        cwd=h.ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    db_cpu = _tree_cpu_s(postmaster) - db_cpu0 if postmaster and db_cpu0 is not None else None
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"import failed: {err.decode()[-2000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return {
        "rows": result.get("rows"),
        "created": result.get("created"),
        "rejected": result.get("rejected"),
        "duplicates": result.get("duplicates"),
        "seconds": round(elapsed, 3),
        "rows_per_s": round(result.get("rows", 0) / elapsed),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        # CPU per row holds on a loaded machine where wall time does not: the importer's own
        # and PostgreSQL's (its whole process tree: this server serves nothing else meanwhile).
        "importer_cpu_us_per_row": round(
            (usage.ru_utime + usage.ru_stime) / max(1, result.get("rows", 0)) * 1e6, 1
        ),
        "db_cpu_us_per_row": round(db_cpu / max(1, result.get("rows", 0)) * 1e6, 1)
        if db_cpu is not None
        else None,
        "ok": result.get("created", 0) + result.get("rejected", 0) + result.get("duplicates", 0)
        == result.get("rows"),
        "loadavg_before": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    h.stop_on_sigterm()
    tmp = Path(tempfile.mkdtemp(prefix="herald-bench-import-"))
    path = tmp / f"contacts-{args.size}.csv"
    generate(path, args.size)
    db = f"herald_bench_import_{args.size}"
    try:
        for run in range(args.runs):
            result = run_once(db, path, tmp / "errors.csv")
            print(
                json.dumps(
                    {
                        "bench": "import",
                        "size": args.size,
                        "run": run,
                        "file_mb": round(path.stat().st_size / 1e6, 1),
                        **result,
                    }
                ),
                flush=True,
            )
    finally:
        h.drop_db(db)
        path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
