"""Segment counts (issues #17, #26): `segment_count(segment=...)` over 1M contacts, < 1 s each,
and the builder's live figure (`segment_preview`: the count and the newest 10 matches).

`python -m bench.segments --size N [--runs R] [--repeat 3] [--explain]` builds a fresh database
`herald_bench_segments_N` (untimed, COPY): N contacts with a spread of country, language,
attributes (city, tier, signup year; typed: last_order_value on ~70 % as digits, signed_up and
birthday as ISO dates), ~2 % opted out, three lists (Newsletter ~40 %, VIP ~5 %,
Leeds store ~3 %); a ledger for ~60 % of them (two campaigns, one message each, created over the
last 60 days, mostly delivered), clicks on ~8 % of the delivered messages and inbound replies from
~3 % of the contacts; then ANALYZE. Each segment below is counted with the code the live count,
the wizard and `manage.py segment count` use (`segment_count(segment=..., now=...)`),
`--repeat` times; the median is reported, one JSON line per segment and run.
"""

import argparse
import datetime as dt
import json
import random
import statistics
import time
import uuid

import psycopg

from bench import harness as h

COUNTRIES = [("GB", 55), ("IE", 8), ("DE", 12), ("FR", 10), ("ES", 8), ("NL", 4), ("", 3)]
LANGUAGES = {"GB": "en", "IE": "en", "DE": "de", "FR": "fr", "ES": "es", "NL": "nl", "": ""}
CITIES = ["London", "Leeds", "Manchester", "Dublin", "Berlin", "Paris", "Madrid", "Amsterdam"]
TIERS = [("bronze", 70), ("silver", 22), ("gold", 8)]
LISTS = [("Newsletter", 0.40), ("VIP", 0.05), ("Leeds store", 0.03)]

SEGMENTS: list[tuple[str, dict]] = [
    ("country = GB", {"match": "all", "rules": [{"field": "country", "op": "eq", "value": "GB"}]}),
    ("attribute tier = gold",
     {"match": "all", "rules": [{"field": "attribute", "key": "tier", "op": "eq",
                                 "value": "gold"}]}),
    ("on list Newsletter AND not opted out",
     {"match": "all", "rules": [{"field": "list", "op": "in", "value": ["Newsletter"]},
                                {"field": "opted_out", "value": False}]}),
    ("delivered within 30 days",
     {"match": "all", "rules": [{"field": "engagement", "event": "delivered",
                                 "within_days": 30}]}),
    ("clicked within 7 days OR replied within 7 days",
     {"match": "any", "rules": [{"field": "engagement", "event": "clicked", "within_days": 7},
                                {"field": "engagement", "event": "replied", "within_days": 7}]}),
    ("country in GB, IE AND not opted out AND (VIP OR delivered within 30 days)",
     {"match": "all", "rules": [
         {"field": "country", "op": "in", "value": ["GB", "IE"]},
         {"field": "opted_out", "value": False},
         {"match": "any", "rules": [
             {"field": "list", "op": "in", "value": ["VIP"]},
             {"field": "engagement", "event": "delivered", "within_days": 30}]}]}),
    # Typed rules (issue 26): numbers as numbers, dates as dates, anniversaries.
    ("last_order_value > 50 (number)",
     {"match": "all", "rules": [{"field": "attribute", "key": "last_order_value",
                                 "type": "number", "op": "gt", "value": 50}]}),
    ("signed_up in the last 30 days (date)",
     {"match": "all", "rules": [{"field": "attribute", "key": "signed_up", "type": "date",
                                 "op": "in_last_days", "value": 30}]}),
    ("birthday within the next 7 days (anniversary)",
     {"match": "all", "rules": [{"field": "attribute", "key": "birthday", "type": "date",
                                 "op": "anniversary_within_days", "value": 7}]}),
    ("on list Newsletter AND last_order_value > 50 AND (clicked on sms in 30 days OR "
     "signed_up in the last 90 days)",
     {"match": "all", "rules": [
         {"field": "list", "op": "in", "value": ["Newsletter"]},
         {"field": "attribute", "key": "last_order_value", "type": "number", "op": "gt",
          "value": 50},
         {"match": "any", "rules": [
             {"field": "engagement", "event": "clicked", "within_days": 30, "channel": "sms"},
             {"field": "attribute", "key": "signed_up", "type": "date", "op": "in_last_days",
              "value": 90}]}]}),
]  # fmt: skip
# The segments the code before typed rules also understands (old → new side by side).
UNTYPED = 6


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def build(db: str, size: int, now: dt.datetime) -> dict:
    """The dataset, written with COPY; returns row counts."""
    rng = random.Random(17)
    h.setup_django(h.db_url(db), h.broker_url(13))
    from campaigns.models import Campaign

    campaigns = [
        Campaign.objects.create(
            name=f"Offers {k}", channel="sms", text=h.TEXT, state="completed"
        ).pk
        for k in range(2)
    ]
    counts = {"contacts": size, "memberships": 0, "messages": 0, "clicks": 0, "replies": 0}
    with psycopg.connect(h.db_url(db), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        list_ids = [
            conn.execute(
                "INSERT INTO contacts_contactlist (name, description, created_at) "
                "VALUES (%s, '', now()) RETURNING id",
                (name,),
            ).fetchone()[0]
            for name, _ in LISTS
        ]
        countries = [_pick(rng, COUNTRIES) for _ in range(size)]
        with conn.cursor().copy(
            "COPY contacts_contact (id, phone, first_name, last_name, language, timezone, country,"
            " attributes, opted_out, opted_out_at, opted_out_source, opted_out_channel,"
            " created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(1, size + 1):
                country = countries[i - 1]
                out = rng.random() < 0.02
                attributes = {"city": rng.choice(CITIES), "tier": _pick(rng, TIERS),
                              "signup_year": str(rng.randint(2015, 2026))}  # fmt: skip
                if rng.random() < 0.3:
                    attributes["favourite"] = rng.choice(["shoes", "bags", "coats"])
                created = now - dt.timedelta(days=rng.randint(0, 900))
                if rng.random() < 0.7:
                    attributes["last_order_value"] = f"{rng.randint(100, 20000) / 100:.2f}"
                attributes["signed_up"] = created.date().isoformat()
                born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 20000))
                attributes["birthday"] = born.isoformat()
                copy.write_row((
                    i, f"+4479{i:08d}", f"Ann{i}", f"Lee{i % 997}", LANGUAGES[country], "",
                    country, json.dumps(attributes), out, now if out else None,
                    "keyword" if out else "", "all" if out else "", created, created,
                ))  # fmt: skip
        conn.execute("SELECT setval(pg_get_serial_sequence('contacts_contact', 'id'), %s)", (size,))
        with conn.cursor().copy(
            "COPY contacts_listmembership (added_at, contact_id, contact_list_id) FROM STDIN"
        ) as copy:
            for i in range(1, size + 1):
                for list_id, (_, share) in zip(list_ids, LISTS, strict=True):
                    if rng.random() < share:
                        copy.write_row((now, i, list_id))
                        counts["memberships"] += 1
        # The ledger: campaign k reaches ~(40 - 10k) % of contacts, each message created within
        # the last 60 days; states mostly delivered.
        states = [("delivered", 80), ("undeliverable", 8), ("expired", 4), ("failed", 4),
                  ("skipped", 2), ("accepted", 2)]  # fmt: skip
        delivered: list[tuple[int, int, int, dt.datetime]] = []
        message_pk = 0
        with conn.cursor().copy(
            "COPY campaigns_message (id, phone, channel, attempt, message_id, callback_data,"
            " bulk_id, text, parts, encoding, state, reason, status_group, status_name,"
            " error_group, error_name, currency, created_at, campaign_id, contact_id) FROM STDIN"
        ) as copy:
            for k, campaign_id in enumerate(campaigns):
                share = 0.40 - 0.10 * k
                for i in range(1, size + 1):
                    if rng.random() >= share:
                        continue
                    message_pk += 1
                    state = _pick(rng, states)
                    created = now - dt.timedelta(seconds=rng.randint(0, 60 * 86400))
                    copy.write_row((
                        message_pk, f"+4479{i:08d}", "sms", 1, uuid.uuid4(),
                        f"herald:campaign={campaign_id}", f"herald-c{campaign_id}",
                        f"Hi Ann{i}, our offers start today.", 1, "GSM-7", state, "",
                        "DELIVERED" if state == "delivered" else "", "", "", "", "EUR",
                        created, campaign_id, i,
                    ))  # fmt: skip
                    if state == "delivered":
                        delivered.append((message_pk, campaign_id, i, created))
        counts["messages"] = message_pk
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('campaigns_message', 'id'), %s)",
            (max(message_pk, 1),),
        )
        with conn.cursor().copy(
            "COPY infobip_click (index, campaign_id, message_id, infobip_message_id, url,"
            " recipient, clicked_at, device_type, os, device_name, country, city, raw)"
            " FROM STDIN"
        ) as copy:
            for message_pk, campaign_id, i, created in delivered:
                if rng.random() < 0.08:
                    clicked = min(now, created + dt.timedelta(minutes=rng.randint(1, 2 * 1440)))
                    copy.write_row((
                        0, campaign_id, message_pk, "", "https://example.com/offers",
                        f"4479{i:08d}", clicked, "phone", "Android", "", "GB", "", "{}",
                    ))  # fmt: skip
                    counts["clicks"] += 1
        with conn.cursor().copy(
            "COPY infobip_inboundmessage (channel, contact_id, infobip_message_id, from_number,"
            " to_number, message_type, text, clean_text, keyword, media_url, payload,"
            " received_at, created_at, keyword_action, reply_text, reply_status,"
            " reply_message_id, reply_error) FROM STDIN"
        ) as copy:
            for i in range(1, size + 1):
                if rng.random() < 0.03:
                    received = now - dt.timedelta(seconds=rng.randint(0, 60 * 86400))
                    copy.write_row((
                        "sms", i, f"in-{i}", f"4479{i:08d}", "Herald", "TEXT", "Thanks!",
                        "thanks", "", "", "{}", received, received, "", "", "", "", "",
                    ))  # fmt: skip
                    counts["replies"] += 1
        for table in ("contacts_contact", "contacts_listmembership", "contacts_contactlist",
                      "campaigns_message", "infobip_click", "infobip_inboundmessage"):  # fmt: skip
            conn.execute(f"VACUUM ANALYZE {table}")
    return counts


def _built_at(db: str) -> dt.datetime:
    """The "now" a kept database was built as of (every membership is added at it)."""
    with psycopg.connect(h.db_url(db)) as conn:
        built = conn.execute("SELECT max(added_at) FROM contacts_listmembership").fetchone()
    if built is None or built[0] is None:
        raise SystemExit(f"{db}: no kept data to reuse (run once with --keep)")
    return built[0]


def measure(size: int, run: int, repeat: int, now: dt.datetime, explain: bool) -> list[dict]:
    from django.db import connection

    from campaigns.models import Segment
    from campaigns.segments import segment_count

    try:  # the builder's live figure (issue 26); code before it has only the count
        from campaigns.segments import segment_preview
    except ImportError:
        segment_preview = None
    results = []
    for label, rules in SEGMENTS if segment_preview else SEGMENTS[:UNTYPED]:
        segment = Segment(name=label, rules=rules)
        load = h.loadavg()
        times, count = [], None
        for _ in range(repeat):
            t = time.perf_counter()
            count = segment_count(segment=segment, now=now)
            times.append((time.perf_counter() - t) * 1000)
        median = statistics.median(times)
        row = {"bench": "segments", "size": size, "run": run, "segment": label, "rules": rules,
               "count": count, "median_ms": round(median, 1),
               "times_ms": [round(x, 1) for x in times], "ok": median < 1000,
               "loadavg_before": load}  # fmt: skip
        if segment_preview is not None:
            previews = []
            for _ in range(repeat):
                t = time.perf_counter()
                preview = segment_preview(rules=rules, now=now)
                previews.append((time.perf_counter() - t) * 1000)
            assert preview.count == count, (label, preview.count, count)
            row["preview_median_ms"] = round(statistics.median(previews), 1)
            row["preview_ok"] = row["preview_median_ms"] < 1000
        if explain:
            from django.db import transaction
            from django.test.utils import CaptureQueriesContext

            # The count's own statement (no ORDER BY, no columns), as `.count()` sends it, after
            # the statements segment_count sends before it (its SET LOCALs), in one transaction.
            with CaptureQueriesContext(connection) as captured:
                segment_count(segment=segment, now=now)
            *before, last = [q["sql"] for q in captured.captured_queries]
            with transaction.atomic(), connection.cursor() as cur:
                for sql in before:
                    if not sql.upper().startswith(("SAVEPOINT", "RELEASE")):
                        cur.execute(sql.replace("%", "%%"))
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + last.replace("%", "%%"))
                row["plan"] = [r[0] for r in cur.fetchall()]
        results.append(row)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--explain", action="store_true", help="add EXPLAIN ANALYZE plans")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--reuse", action="store_true", help="count on a database kept by --keep (no build)"
    )
    args = parser.parse_args(argv)
    h.stop_on_sigterm()
    db = f"herald_bench_segments_{args.size}"
    # Fixed "now" for the engagement windows, as the freeze does (segments as of a time).
    now = dt.datetime.now(dt.UTC)
    try:
        for run in range(args.runs):
            start = time.perf_counter()
            if args.reuse:
                h.setup_django(h.db_url(db), h.broker_url(13))
                # The kept data's windows were laid out as of its build: count as of then.
                now = _built_at(db)
            else:
                h.create_db(db)
                counts = build(db, args.size, now)
                print(json.dumps({"bench": "segments_build", "size": args.size, "run": run,
                                  "seconds": round(time.perf_counter() - start), **counts}),
                      flush=True)  # fmt: skip
            for row in measure(args.size, run, args.repeat, now, args.explain):
                print(json.dumps(row, default=str), flush=True)
            from django.db import connections

            connections.close_all()
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            h.drop_db(db)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
