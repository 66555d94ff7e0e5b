"""Benchmark 4: server time of pages with a 1M-recipient campaign in a 10M-row ledger.

`python -m bench.pages [--keep] [--repeat 7]` builds (once; kept with --keep) the database
`herald_bench_pages`: 1M contacts and 10 campaigns of 1M messages each (10M ledger rows), written
with INSERT … SELECT generate_series (secondary indexes dropped during the load and rebuilt with
their original definitions), counters set from one GROUP BY at build time. Each page is then
requested in-process with Django's test Client as a logged-in superuser: one warm-up, then
`--repeat` timed requests (time.perf_counter around client.get); the median is reported with the
number of SQL queries and the slowest query of the page.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

import psycopg

from bench import harness as h
from bench.data import make_audience

DB = "herald_bench_pages"
CONTACTS = 1_000_000
CAMPAIGNS = 10
INSERT_MESSAGES = """
    INSERT INTO campaigns_message (phone, channel, attempt, message_id, callback_data, bulk_id,
        text, parts, encoding, state, reason, status_group, status_id, status_name, error_group,
        error_name, price, currency, created_at, claimed_at, accepted_at, done_at, campaign_id,
        contact_id)
    SELECT '+4479' || lpad(i::text, 8, '0'), 'sms', 1, gen_random_uuid(),
        'herald:campaign=' || %s, 'herald-c' || %s,
        'Hi Ann' || i || ', our spring offers start today: 20%% off for you.', 1, 'GSM-7',
        (ARRAY['delivered', 'delivered', 'delivered', 'delivered', 'delivered', 'delivered',
               'delivered', 'delivered', 'undeliverable', 'expired'])[1 + (i %% 10)],
        '', 'DELIVERED', 5, 'DELIVERED_TO_HANDSET', '', '', 0.005, 'EUR',
        now(), now(), now(), now(), %s, i
    FROM generate_series(1, %s) AS i
"""


def build(url: str) -> None:
    make_audience(DB, CONTACTS, list_name="everyone")
    h.setup_django(url, h.broker_url(13))
    from campaigns.models import Campaign

    now_ids = [
        Campaign.objects.create(
            name=f"Spring offers {k}", channel="sms", text=h.TEXT, state="completed"
        ).pk
        for k in range(CAMPAIGNS)
    ]
    with psycopg.connect(h.db_url(DB), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        cons = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'campaigns_message'::regclass AND contype IN ('u', 'f')"
        ).fetchall()
        names = {c for c, _ in cons}
        idx = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'campaigns_message' "
            "AND indexname <> 'campaigns_message_pkey'"
        ).fetchall()
        idx = [(n, d) for n, d in idx if n not in names]
        for name, _ in cons:
            conn.execute(f'ALTER TABLE campaigns_message DROP CONSTRAINT "{name}"')
        for name, _ in idx:
            conn.execute(f'DROP INDEX "{name}"')
        for campaign_id in now_ids:
            conn.execute(INSERT_MESSAGES, (campaign_id, campaign_id, campaign_id, CONTACTS))
        for _, definition in idx:
            conn.execute(definition)
        for name, definition in cons:
            conn.execute(f'ALTER TABLE campaigns_message ADD CONSTRAINT "{name}" {definition}')
        conn.execute(
            """
            UPDATE campaigns_campaign c SET recipients = s.total, count_delivered = s.delivered,
                count_undeliverable = s.undeliverable, count_expired = s.expired,
                cost_amount = s.cost, cost_currency = 'EUR', frozen_at = now(),
                launched_at = now(), finished_at = now()
            FROM (SELECT campaign_id, count(*) AS total,
                         count(*) FILTER (WHERE state = 'delivered') AS delivered,
                         count(*) FILTER (WHERE state = 'undeliverable') AS undeliverable,
                         count(*) FILTER (WHERE state = 'expired') AS expired,
                         sum(price) AS cost
                  FROM campaigns_message GROUP BY campaign_id) s
            WHERE c.id = s.campaign_id
            """
        )
        conn.execute("VACUUM ANALYZE campaigns_message")
        conn.execute("VACUUM ANALYZE campaigns_campaign")


def ledger_rows() -> int:
    try:
        with psycopg.connect(h.db_url(DB), autocommit=True) as conn:
            return conn.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE relname = 'campaigns_message'"
            ).fetchone()[0]
    except psycopg.Error:
        return 0


def pages(campaign_id: int, contact_id: int) -> list[tuple[str, str]]:
    from django.urls import NoReverseMatch, reverse

    found = [
        ("admin: campaigns", "/admin/campaigns/campaign/"),
        ("admin: campaign change", f"/admin/campaigns/campaign/{campaign_id}/change/"),
        ("admin: messages (ledger)", "/admin/campaigns/message/"),
        ("admin: messages of the 1M campaign",
         f"/admin/campaigns/message/?campaign__id__exact={campaign_id}"),
        ("admin: contacts", "/admin/contacts/contact/"),
    ]  # fmt: skip
    for label, name, kwargs in (
        ("dashboard", "ui:dashboard", {}),
        ("campaign page", "ui:campaign", {"pk": campaign_id}),
        ("campaign progress fragment", "ui:campaign_progress", {"pk": campaign_id}),
        ("campaign recipients", "ui:campaign_recipients", {"pk": campaign_id}),
        ("campaigns list", "ui:campaigns", {}),
        ("contacts list", "ui:contacts", {}),
        ("contact page", "ui:contact", {"pk": contact_id}),
    ):
        try:
            found.append((label, reverse(name, kwargs=kwargs)))
        except NoReverseMatch:
            found.append((label, ""))
    return found


def measure(repeat: int) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from campaigns.models import Campaign

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    # A campaign in the middle of the ledger: neither the first nor the last ids (no best case).
    ids = list(Campaign.objects.order_by("id").values_list("id", flat=True))
    campaign_id = ids[len(ids) // 2]
    results = []
    for label, url in pages(campaign_id, contact_id=CONTACTS // 2):
        if not url:
            results.append({"page": label, "url": "", "status": "not built yet"})
            continue
        client.get(url)  # warm-up (template and plan caches)
        times, queries = [], []
        for _ in range(repeat):
            log: list[tuple[float, str]] = []

            def timer(execute, sql, params, many, context, log=log):
                t = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    log.append(((time.perf_counter() - t) * 1000, sql))

            load = h.loadavg()
            with connection.execute_wrapper(timer):
                t = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - t) * 1000)
            queries = log
        slowest = max(queries, default=(0.0, ""))
        results.append(
            {
                "page": label,
                "url": url,
                "status": response.status_code,
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
                "queries": len(queries),
                "slowest_query_ms": round(slowest[0], 1),
                "slowest_query": slowest[1][:300],
                "ok": response.status_code == 200 and statistics.median(times) < 100,
                "loadavg_before": load,
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    global CONTACTS, CAMPAIGNS
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keep", action="store_true", help="keep the 10M-row database")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--contacts", type=int, default=CONTACTS, help="smaller for a try-out")
    parser.add_argument("--campaigns", type=int, default=CAMPAIGNS)
    args = parser.parse_args(argv)
    h.stop_on_sigterm()
    CONTACTS, CAMPAIGNS = args.contacts, args.campaigns
    url = h.db_url(DB)
    try:
        if ledger_rows() < CONTACTS * CAMPAIGNS * 0.99:
            start = time.perf_counter()
            h.create_db(DB)
            build(url)
            built = round(time.perf_counter() - start)
            print(json.dumps({"bench": "pages_build", "seconds": built}), flush=True)
        else:
            # A kept database: bring its schema up to date (new indexes are built on 10M rows).
            migrate = [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"]
            subprocess.run(migrate, cwd=h.ROOT, env=h.django_env(url, h.broker_url(13)), check=True)
            h.setup_django(url, h.broker_url(13))
        for row in measure(args.repeat):
            print(json.dumps({"bench": "pages", "ledger_rows": ledger_rows(), **row}), flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            h.drop_db(DB)
    return 0


if __name__ == "__main__":
    sys.exit(main())
