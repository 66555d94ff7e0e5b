"""API benchmark: contacts upserted through `POST /api/v1/contacts/upsert` in batches of 10,000.

`python -m bench.api_upsert --size N [--batch 10000] [--runs R]` prints one JSON line per run:
a fresh database, a token, then the whole DRF stack in-process (Django's test client: JSON
parsing, auth, throttling, the service, the answer; no socket), first creating then updating
every contact. Target (issue #18): >= 10,000 contacts/s; `python -m bench --only api_upsert`.
"""

import argparse
import json
import os
import time
from pathlib import Path

from bench import harness as h


def _pg_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of PostgreSQL backend `pid`, or None if not readable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(db: str, size: int, batch: int) -> dict:
    """Create, then update, `size` contacts through the API in `batch`-sized calls."""
    url = h.create_db(db)
    h.setup_django(url, h.broker_url(13), HERALD_API_RATE="100000/min")
    from django.contrib.auth.models import User
    from django.test import Client

    from api.tokens import api_token_create

    user = User.objects.create_superuser("bench", password=None)
    _, secret = api_token_create(user=user, scopes=["contacts:write"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    from django.db import connection

    with connection.cursor() as cursor:  # the test client shares this process's connection
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    result: dict = {"loadavg_before": h.loadavg()}
    for label, suffix in (("create", ""), ("update", "b")):
        counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        start = time.perf_counter()
        cpu_start, pg_start = time.process_time(), _pg_cpu(backend)
        for offset in range(0, size, batch):
            rows = [
                {
                    "phone": f"+447{(i * 2_654_435_761) % 1_000_000_000:09d}",
                    "first_name": f"N{i}{suffix}",
                    "lists": ["bench"],
                    "attributes": {"i": str(i)},
                }
                for i in range(offset, min(offset + batch, size))
            ]
            response = client.post(
                "/api/v1/contacts/upsert",
                json.dumps({"contacts": rows}),
                content_type="application/json",
            )
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.content[:500]!r}")
            answer = response.json()
            for key in ("created", "updated", "unchanged"):
                counts[key] += answer[key]
            counts["rejected"] += len(answer["rejected"])
        elapsed = time.perf_counter() - start
        # CPU per contact: this process (client + the whole DRF stack) and its PostgreSQL
        # backend (from /proc; None if the server is not on this machine) - less noisy than wall.
        result[f"{label}_cpu_us"] = round((time.process_time() - cpu_start) / size * 1e6, 1)
        pg_end = _pg_cpu(backend)
        if pg_start is not None and pg_end is not None:
            result[f"{label}_pg_cpu_us"] = round((pg_end - pg_start) / size * 1e6, 1)
        result[f"{label}_per_s"] = round(size / elapsed)
        result[f"{label}_seconds"] = round(elapsed, 3)
        result[f"{label}_counts"] = counts
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    db = f"herald_bench_api_{args.size}"
    try:
        for run in range(args.runs):
            result = run_once(db, args.size, args.batch)
            print(
                json.dumps(
                    {
                        "bench": "api_upsert",
                        "size": args.size,
                        "batch": args.batch,
                        "run": run,
                        **result,
                    }
                ),
                flush=True,
            )
    finally:
        h.drop_db(db)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
