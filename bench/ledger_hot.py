"""`python -m bench.ledger_hot`: the ledger's two hot updates, in-process, per row.

A running campaign of --size queued rows (written with SQL, as a freeze leaves them), then the
real code paths: `messages_claim` + `messages_record_sent` (the send answer, queued →
accepted, --batch rows a claim) and `messages_apply_reports` (delivery reports, batches of 100,
each pushed twice). For each phase: WAL records and bytes per row (pg_stat_wal, this server
only), the share of HOT updates (pg_stat_user_tables.n_tup_hot_upd / n_tup_upd), the
database's CPU time per row (the backend's /proc stat: the server is on this machine) and the
wall time, so a loaded machine still gives comparable figures. Run it from two checkouts (the
schema before and after) one after the other, or alternately, and compare per row.
"""

import argparse
import json
import os
import time
import uuid

import psycopg

from bench import harness as h
from bench.data import make_audience

DB = "herald_bench_hot"

INSERT_QUEUED = """
    INSERT INTO campaigns_message (phone, channel, attempt, message_id, callback_data, bulk_id,
        text, template_values, parts, encoding, state, reason, status_group, status_name,
        error_group, error_name, currency, created_at, campaign_id, contact_id)
    SELECT c.phone, 'sms', 1, gen_random_uuid(), 'herald:campaign=' || %(campaign)s, '',
        'Hi ' || c.first_name || ', our spring offers start today: 20%% off for you.', NULL, 1,
        'GSM-7', 'queued', '', '', '', '', '', '', now(), %(campaign)s, c.id
    FROM contacts_contact c ORDER BY c.id LIMIT %(size)s
"""


def _wal(conn: psycopg.Connection) -> tuple[int, int]:
    return conn.execute("SELECT wal_records, wal_bytes FROM pg_stat_wal").fetchone()  # type: ignore[return-value]


def _upd(conn: psycopg.Connection) -> tuple[int, int]:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
        "WHERE relname = 'campaigns_message'"
    ).fetchone()
    return row  # type: ignore[return-value]


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Phase:
    """WAL, HOT share and CPU of the backend over one phase."""

    def __init__(self, admin: psycopg.Connection, backend_pid: int) -> None:
        self.admin, self.pid = admin, backend_pid

    def __enter__(self) -> "Phase":
        self.wal0, self.upd0 = _wal(self.admin), _upd(self.admin)
        self.cpu0, self.py0, self.t0 = _cpu_s(self.pid), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.db_cpu = _cpu_s(self.pid) - self.cpu0
        self.py_cpu = time.process_time() - self.py0
        from django.db import connection

        # The backend's table statistics reach shared memory at its next idle moment.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
        time.sleep(0.3)
        wal1, upd1 = _wal(self.admin), _upd(self.admin)
        self.records, self.bytes = wal1[0] - self.wal0[0], wal1[1] - self.wal0[1]
        self.updates, self.hot = upd1[0] - self.upd0[0], upd1[1] - self.upd0[1]

    def record(self, name: str, rows: int) -> dict:
        return {
            "phase": name,
            "rows": rows,
            "wal_records_per_row": round(self.records / rows, 2),
            "wal_bytes_per_row": round(self.bytes / rows, 1),
            "updates": self.updates,
            "hot_share": round(self.hot / self.updates, 3) if self.updates else None,
            "db_cpu_us_per_row": round(self.db_cpu / rows * 1e6, 1),
            "py_cpu_us_per_row": round(self.py_cpu / rows * 1e6, 1),
            "rows_per_s": round(rows / self.wall),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--fillfactor", type=int, help="the ledger's fill factor for this run")
    parser.add_argument("--keep", action="store_true", help="reuse the audience of a last run")
    args = parser.parse_args(argv)

    if not (args.keep and h.db_exists(DB)):
        url = h.create_db(DB)
        make_audience(DB, args.size)
    url = h.db_url(DB)
    h.setup_django(url, h.broker_url(13))
    from django.db import connection
    from django.utils import timezone

    from campaigns.ledger import (
        Outcome,
        SentStatus,
        messages_apply_reports,
        messages_claim,
        messages_record_sent,
    )
    from campaigns.models import Campaign

    h.pg("TRUNCATE campaigns_campaign, campaigns_message, campaigns_messageevent CASCADE", DB)
    campaign = Campaign.objects.create(
        name="hot", channel="sms", text=h.TEXT, state="running", frozen_at=timezone.now()
    )
    with psycopg.connect(url, autocommit=True) as conn:
        if args.fillfactor:
            conn.execute(f"ALTER TABLE campaigns_message SET (fillfactor = {args.fillfactor:d})")
        conn.execute(INSERT_QUEUED, {"campaign": campaign.pk, "size": args.size})
        conn.execute(
            "UPDATE campaigns_campaign SET recipients = %s, count_queued = %s WHERE id = %s",
            (args.size, args.size, campaign.pk),
        )
        conn.execute("VACUUM ANALYZE campaigns_message")
        conn.execute("CHECKPOINT")
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    accepted = SentStatus("accepted", "PENDING", 26, "PENDING_ACCEPTED", "")
    out = {"bench": "ledger_hot", "size": args.size, "loadavg_before": h.loadavg()}
    sent_ids: list[str] = []
    with psycopg.connect(h.db_url(DB), autocommit=True) as admin:
        indexes = admin.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'campaigns_message' ORDER BY 1"
        ).fetchall()
        out["indexes"] = [name for (name,) in indexes]
        out["fillfactor"] = admin.execute(
            "SELECT reloptions FROM pg_class WHERE relname = 'campaigns_message'"
        ).fetchone()[0]
        with Phase(admin, pid) as answer:
            while True:
                claimed = messages_claim(campaign_id=campaign.pk, limit=args.batch)
                if not claimed:
                    break
                messages_record_sent(
                    campaign_id=campaign.pk,
                    sent=[(row, accepted, 1) for row in claimed],
                    bulk_id=str(uuid.uuid4()),
                    batch_id=claimed[0].batch_id,
                )
                sent_ids += [row.message_id for row in claimed]
        out["answer"] = answer.record("answer", len(sent_ids))
        # Reports in batches of 100, each batch pushed twice (the second moves nothing).
        now = timezone.now()
        with Phase(admin, pid) as reports:
            for start in range(0, len(sent_ids), 100):
                batch = [
                    Outcome(
                        mid, "delivered", "DELIVERED", 5, "DELIVERED_TO_HANDSET", price=None, at=now
                    )
                    for mid in sent_ids[start : start + 100]
                ]
                messages_apply_reports(outcomes=batch)
                messages_apply_reports(outcomes=batch)
        out["reports"] = reports.record("reports", len(sent_ids))
        out["table_mb"] = round(
            admin.execute("SELECT pg_table_size('campaigns_message')").fetchone()[0] / 2**20, 1
        )
    out["loadavg_after"] = h.loadavg()
    print(json.dumps(out, default=str), flush=True)
    campaign.refresh_from_db()
    assert campaign.count_delivered == len(sent_ids), campaign.counts
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
