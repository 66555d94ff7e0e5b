"""`python -m bench.history`: archive a finished campaign's history, and what it costs.

A ledger holding a live campaign of --others rows and a finished one of --size delivered rows
(one event each), written with SQL as the engine leaves them. Then the real service,
`campaign_history_archive`: its wall time, the database's and Python's CPU, the WAL it wrote,
the file's size against the rows' size in the tables; `VACUUM` of the two tables after it (what
a million-row removal leaves to do); the live tables' size before the campaign, with it, after
the archive, and after the next campaign of the same size is written (the freed space reused:
the tables do not grow); then `campaign_history_restore` (same ids back) and the CSV export read
from the file. Last, on scratch tables of the same shape, the alternative this design was
measured against: the same rows in a list partition of their own, detached and dropped.
"""

import argparse
import datetime as dt
import io
import json
import os
import resource
import tempfile
import time

import psycopg

from bench import harness as h
from bench.data import make_audience
from bench.ledger_hot import _cpu_s

DB = "herald_bench_history"

INSERT_DELIVERED = """
    INSERT INTO campaigns_message (phone, channel, attempt, message_id, callback_data, bulk_id,
        text, template_values, parts, encoding, state, reason, status_group, status_name,
        error_group, error_name, currency, price, created_at, accepted_at, done_at,
        campaign_id, contact_id)
    SELECT c.phone, 'sms', 1, gen_random_uuid(), 'herald:campaign=' || %(campaign)s,
        md5(%(campaign)s::text), 'Hi ' || c.first_name || ', our spring offers start today: '
        || '20%% off for you.', NULL, 1, 'GSM-7', %(state)s, '', 'DELIVERED',
        'DELIVERED_TO_HANDSET', '', '', 'EUR', 0.0125, now() - interval '41 days',
        now() - interval '41 days', now() - interval '41 days', %(campaign)s, c.id
    FROM contacts_contact c ORDER BY c.id LIMIT %(size)s
"""
INSERT_EVENTS = """
    INSERT INTO campaigns_messageevent (message_id, kind, from_state, to_state, status_name,
        error_name, detail, created_at)
    SELECT id, 'state', 'accepted', 'delivered', 'DELIVERED_TO_HANDSET', '', '', done_at
    FROM campaigns_message WHERE campaign_id = %(campaign)s
"""
SIZES = """
    SELECT pg_total_relation_size('campaigns_message') + pg_total_relation_size(
        'campaigns_messageevent'), (SELECT count(*) FROM campaigns_message)
"""
INDEX_SIZES = """
    SELECT pg_indexes_size('campaigns_message') + pg_indexes_size('campaigns_messageevent')
"""


def _lsn(conn: psycopg.Connection) -> str:
    return conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]  # type: ignore[index]


def _wal_since(conn: psycopg.Connection, lsn: str) -> int:
    """WAL bytes written by the whole server since `lsn` (this run is its only writer)."""
    return int(
        conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [lsn]).fetchone()[0]  # type: ignore[index]
    )


class _Discard(io.StringIO):
    """Where the export's CSV goes: counted, not kept (the export's own memory is measured)."""

    def write(self, text: str) -> int:
        return len(text)


def _peak_mb() -> float:
    """This process's peak resident memory so far (the phases run in order: archive, restore,
    archive, export)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _mb(n: int) -> float:
    return round(n / 2**20, 1)


def _write(conn: psycopg.Connection, campaign: int, size: int, state: str) -> None:
    conn.execute(INSERT_DELIVERED, {"campaign": campaign, "size": size, "state": state})
    if state == "delivered":
        conn.execute(INSERT_EVENTS, {"campaign": campaign})


def _partition_drop(conn: psycopg.Connection, campaign: int) -> dict:
    """The same rows in a list partition of their own: write them, then detach and drop it."""
    conn.execute("DROP TABLE IF EXISTS bench_ledger_parted")
    conn.execute(
        "CREATE TABLE bench_ledger_parted (LIKE campaigns_message INCLUDING DEFAULTS) "
        "PARTITION BY LIST (campaign_id)"
    )
    conn.execute("CREATE TABLE bench_ledger_default PARTITION OF bench_ledger_parted DEFAULT")
    conn.execute(
        f"CREATE TABLE bench_ledger_c{campaign:d} PARTITION OF bench_ledger_parted "
        f"FOR VALUES IN ({campaign:d})"
    )
    # The keys a partitioned ledger could keep: each includes the partition key.
    conn.execute("ALTER TABLE bench_ledger_parted ADD PRIMARY KEY (campaign_id, id)")
    conn.execute("CREATE UNIQUE INDEX ON bench_ledger_parted (campaign_id, message_id)")
    conn.execute(
        "INSERT INTO bench_ledger_parted SELECT * FROM campaigns_message WHERE campaign_id = %s",
        [campaign],
    )
    conn.execute("CHECKPOINT")
    lsn, t0 = _lsn(conn), time.perf_counter()
    conn.execute(f"ALTER TABLE bench_ledger_parted DETACH PARTITION bench_ledger_c{campaign:d}")
    conn.execute(f"DROP TABLE bench_ledger_c{campaign:d}")
    wall, wal = time.perf_counter() - t0, _wal_since(conn, lsn)
    conn.execute("DROP TABLE bench_ledger_parted")
    return {"detach_drop_s": round(wall, 3), "wal_kb": round(wal / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000, help="the finished campaign's rows")
    parser.add_argument("--others", type=int, help="a live campaign's rows (default: --size)")
    parser.add_argument("--keep", action="store_true", help="reuse the audience of a last run")
    args = parser.parse_args(argv)
    others = args.size if args.others is None else args.others

    if not (args.keep and h.db_exists(DB)):
        h.create_db(DB)
        make_audience(DB, max(args.size, others))
    url = h.db_url(DB)
    files = tempfile.mkdtemp(prefix="herald-bench-history-")
    h.setup_django(url, h.broker_url(13), HERALD_HISTORY_DIR=files)
    from django.db import connection
    from django.utils import timezone

    from campaigns.export import campaign_export
    from campaigns.history import campaign_history_archive, campaign_history_restore
    from campaigns.models import Campaign
    from core.rules import OPERATOR

    h.pg("TRUNCATE campaigns_campaign, campaigns_message, campaigns_messageevent CASCADE", DB)
    finished_at = timezone.now() - dt.timedelta(days=40)
    live = Campaign.objects.create(name="live", channel="sms", text=h.TEXT, state="running")
    done, later = (
        Campaign.objects.create(
            name=name,
            channel="sms",
            text=h.TEXT,
            state="completed",
            recipients=args.size,
            count_delivered=args.size,
            finished_at=finished_at,
        )
        for name in ("finished", "next")
    )
    out: dict = {"bench": "history", "size": args.size, "others": others}
    with psycopg.connect(url, autocommit=True) as admin:
        _write(admin, live.pk, others, "queued")
        admin.execute("VACUUM ANALYZE campaigns_message")
        before, _ = admin.execute(SIZES).fetchone()  # type: ignore[misc]
        before_indexes = admin.execute(INDEX_SIZES).fetchone()[0]  # type: ignore[index]
        _write(admin, done.pk, args.size, "delivered")
        admin.execute("VACUUM ANALYZE campaigns_message, campaigns_messageevent")
        admin.execute("CHECKPOINT")
        with_it, rows = admin.execute(SIZES).fetchone()  # type: ignore[misc]
        out["loadavg_before"] = h.loadavg()
        out["peak_rss_mb_before"] = _peak_mb()
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        lsn, cpu0, py0 = _lsn(admin), _cpu_s(pid), time.process_time()
        t0 = time.perf_counter()
        result = campaign_history_archive(campaign=done, actor=OPERATOR)
        wall = time.perf_counter() - t0
        wal = _wal_since(admin, lsn)
        assert (result.messages, result.events) == (args.size, args.size), result
        out["archive"] = {
            "seconds": round(wall, 2),
            "rows_per_s": round(args.size / wall),
            "db_cpu_s": round(_cpu_s(pid) - cpu0, 2),
            "py_cpu_s": round(time.process_time() - py0, 2),
            "wal_mb": _mb(wal),
            "wal_bytes_per_removed_row": round(wal / (2 * args.size)),
            "file_mb": _mb(result.bytes),
            "file_vs_tables": round(result.bytes / (with_it - before), 3),
            "peak_rss_mb": _peak_mb(),
        }
        t0 = time.perf_counter()
        admin.execute("VACUUM campaigns_message, campaigns_messageevent")
        out["vacuum_after_s"] = round(time.perf_counter() - t0, 2)
        after, rows_after = admin.execute(SIZES).fetchone()  # type: ignore[misc]
        after_indexes = admin.execute(INDEX_SIZES).fetchone()[0]  # type: ignore[index]
        _write(admin, later.pk, args.size, "delivered")
        admin.execute("VACUUM ANALYZE campaigns_message, campaigns_messageevent")
        refilled, _ = admin.execute(SIZES).fetchone()  # type: ignore[misc]
        out["tables_mb"] = {
            "before": _mb(before),
            "with_campaign": _mb(with_it),
            "after_archive": _mb(after),
            "after_next_campaign": _mb(refilled),
            "indexes_before": _mb(before_indexes),
            "indexes_after_archive": _mb(after_indexes),
        }
        out["ledger_rows"] = {"with_campaign": rows, "after_archive": rows_after}
        t0 = time.perf_counter()
        restored = campaign_history_restore(
            campaign=Campaign.objects.get(pk=done.pk), actor=OPERATOR
        )
        wall = time.perf_counter() - t0
        out["restore"] = {
            "seconds": round(wall, 2),
            "rows_per_s": round(args.size / wall),
            "peak_rss_mb": _peak_mb(),
        }
        assert restored.messages == args.size, restored
        # The alternative: the same rows (back after the restore) in their own partition.
        out["partition_alternative"] = _partition_drop(admin, done.pk)
    campaign_history_archive(campaign=Campaign.objects.get(pk=done.pk), actor=OPERATOR)
    t0 = time.perf_counter()
    rows_out = campaign_export(campaign=Campaign.objects.get(pk=done.pk), out=_Discard())
    out["export_from_file"] = {
        "rows": rows_out,
        "seconds": round(time.perf_counter() - t0, 2),
        "peak_rss_mb": _peak_mb(),
    }
    out["loadavg_after"] = h.loadavg()
    for name in os.listdir(files):
        os.unlink(os.path.join(files, name))
    os.rmdir(files)
    print(json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
