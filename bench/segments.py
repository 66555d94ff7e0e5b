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

Before → after in one run (issue 26 #1): each segment is also counted with the compiler's OR as
it was before own-row rules were read on the row (`_before_any_ids` and `_before_ids`, copies
of main's at a3a27a2: every OR of other tables one `id IN (... UNION ...)`, no LEFT JOIN),
interleaved with the new one, on both paths that evaluate a segment: the live count
and sample (`segment_count`, `segment_preview`: jit off, 64 MB work_mem) and the ORM
(`Contact.objects.filter(segment_condition(...))`, the server's defaults): its `.count()` (the
wizard's audience count) and the freeze's read (ids in id order through a server-side cursor).
"""

import argparse
import datetime as dt
import json
import random
import statistics
import time
import uuid

import psycopg
from psycopg import sql

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


def _before_any_ids(self, rules: list[dict], c: sql.Composable) -> sql.Composable:
    """campaigns/segment_sql.py `_Compiler.any_ids` before (a3a27a2): every OR that reads
    other tables is one `id IN (own ids UNION ids ...)`, the own-row rules a scan of contacts."""
    from campaigns.segment_sql import _ids_where, _on_contact

    branches: list[sql.Composable] = []
    own = [rule for rule in rules if _on_contact(rule)]
    if own:
        inner = self.alias()
        either = sql.SQL(" OR ").join(self.item(rule, inner) for rule in own)
        branches.append(_ids_where(inner, either))
    for rule in rules:
        if _on_contact(rule):
            continue
        ids = None if "rules" in rule or rule.get("negate") else self.ids(rule)
        if ids is None:
            inner = self.alias()
            ids = _ids_where(inner, self.item(rule, inner))
        branches.append(ids)
    return sql.SQL("{}.id IN ({})").format(c, sql.SQL(" UNION ").join(branches))


def _before_ids(self, rule: dict) -> sql.Composable | None:
    """`_Compiler.ids` before (a3a27a2): a click's message probed twice (no OFFSET 0)."""
    from campaigns.segment_sql import CLICKS, MESSAGES

    if rule["field"] == "engagement" and rule["event"] == "clicked":
        _, where = self.engagement(rule)
        return sql.SQL(
            "SELECT x.contact_id FROM (SELECT (SELECT m.contact_id FROM {messages} m "
            "WHERE m.id = k.message_id{channel}) AS contact_id FROM {clicks} k "
            "WHERE {where}) x WHERE x.contact_id IS NOT NULL"
        ).format(messages=MESSAGES, clicks=CLICKS, where=where, channel=self.click_channel(rule))
    return _AFTER_IDS(self, rule)


_AFTER_IDS = None


class _Code:
    """Switch the compiler's OR between the code before and after (`with _Code("before")`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        from campaigns import segment_sql

        global _AFTER_IDS
        compiler = segment_sql._Compiler
        self.after = compiler.any_ids, compiler.ids, compiler.any_joined
        _AFTER_IDS = compiler.ids
        if self.name == "before":
            compiler.any_ids, compiler.ids = _before_any_ids, _before_ids
            # No LEFT JOINs before: every OR of other tables was `id IN (... UNION ...)`.
            compiler.any_joined = _before_any_ids

    def __exit__(self, *exc: object) -> None:
        from campaigns import segment_sql

        compiler = segment_sql._Compiler
        compiler.any_ids, compiler.ids, compiler.any_joined = self.after


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
                attributes = {
                    "city": rng.choice(CITIES),
                    "tier": _pick(rng, TIERS),
                    "signup_year": str(rng.randint(2015, 2026)),
                }
                if rng.random() < 0.3:
                    attributes["favourite"] = rng.choice(["shoes", "bags", "coats"])
                created = now - dt.timedelta(days=rng.randint(0, 900))
                if rng.random() < 0.7:
                    attributes["last_order_value"] = f"{rng.randint(100, 20000) / 100:.2f}"
                attributes["signed_up"] = created.date().isoformat()
                born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 20000))
                attributes["birthday"] = born.isoformat()
                copy.write_row(
                    (
                        i,
                        f"+4479{i:08d}",
                        f"Ann{i}",
                        f"Lee{i % 997}",
                        LANGUAGES[country],
                        "",
                        country,
                        json.dumps(attributes),
                        out,
                        now if out else None,
                        "keyword" if out else "",
                        "all" if out else "",
                        created,
                        created,
                    )
                )
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
        states = [
            ("delivered", 80),
            ("undeliverable", 8),
            ("expired", 4),
            ("failed", 4),
            ("skipped", 2),
            ("accepted", 2),
        ]
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
                    copy.write_row(
                        (
                            message_pk,
                            f"+4479{i:08d}",
                            "sms",
                            1,
                            uuid.uuid4(),
                            f"herald:campaign={campaign_id}",
                            f"herald-c{campaign_id}",
                            f"Hi Ann{i}, our offers start today.",
                            1,
                            "GSM-7",
                            state,
                            "",
                            "DELIVERED" if state == "delivered" else "",
                            "",
                            "",
                            "",
                            "EUR",
                            created,
                            campaign_id,
                            i,
                        )
                    )
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
                    copy.write_row(
                        (
                            0,
                            campaign_id,
                            message_pk,
                            "",
                            "https://example.com/offers",
                            f"4479{i:08d}",
                            clicked,
                            "phone",
                            "Android",
                            "",
                            "GB",
                            "",
                            "{}",
                        )
                    )
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
                    copy.write_row(
                        (
                            "sms",
                            i,
                            f"in-{i}",
                            f"4479{i:08d}",
                            "Herald",
                            "TEXT",
                            "Thanks!",
                            "thanks",
                            "",
                            "",
                            "{}",
                            received,
                            received,
                            "",
                            "",
                            "",
                            "",
                            "",
                        )
                    )
                    counts["replies"] += 1
        for table in (
            "contacts_contact",
            "contacts_listmembership",
            "contacts_contactlist",
            "campaigns_message",
            "infobip_click",
            "infobip_inboundmessage",
        ):
            conn.execute(f"VACUUM ANALYZE {table}")
    return counts


def _built_at(db: str) -> dt.datetime:
    """The "now" a kept database was built as of (every membership is added at it)."""
    with psycopg.connect(h.db_url(db)) as conn:
        built = conn.execute("SELECT max(added_at) FROM contacts_listmembership").fetchone()
    if built is None or built[0] is None:
        raise SystemExit(f"{db}: no kept data to reuse (run once with --keep)")
    return built[0]


def _timed(work, repeat: int) -> tuple[dict[str, list[float]], dict[str, object]]:
    """`work(code)` for the code before and after, interleaved (the order alternates), `repeat`
    times each: the times in ms and each side's last result."""
    times: dict[str, list[float]] = {"before": [], "after": []}
    results: dict[str, object] = {}
    for r in range(repeat):
        for name in ("before", "after") if r % 2 == 0 else ("after", "before"):
            with _Code(name):
                t = time.perf_counter()
                results[name] = work()
                times[name].append((time.perf_counter() - t) * 1000)
    return times, results


def _explain(statement_sql: list[str]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the last statement, after the ones before it (SET LOCALs),
    in one transaction rolled back."""
    from django.db import connection, transaction

    statement_sql = [
        text
        for text in statement_sql
        if not text.upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "EXPLAIN", "BEGIN"))
    ]
    *before, last = statement_sql
    with transaction.atomic(), connection.cursor() as cur:
        for text in before:
            cur.execute(text.replace("%", "%%"))
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + last.replace("%", "%%"))
        plan = [r[0] for r in cur.fetchall()]
        transaction.set_rollback(True)
    return plan


def measure(size: int, run: int, repeat: int, now: dt.datetime, explain: bool) -> list[dict]:
    return [_one(size, run, repeat, now, explain, label, rules) for label, rules in SEGMENTS]


def _one(
    size: int, run: int, repeat: int, now: dt.datetime, explain: bool, label: str, rules: dict
) -> dict:
    """One segment, before and after, on the count's and the ORM's paths."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns.models import Segment
    from campaigns.segments import segment_condition, segment_count, segment_preview
    from contacts.models import Contact

    def med(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    segment = Segment(name=label, rules=rules)
    load = h.loadavg()
    counts, count = _timed(lambda: segment_count(segment=segment, now=now), repeat)
    previews, preview = _timed(lambda: segment_preview(rules=rules, now=now), repeat)

    def orm():
        return Contact.objects.filter(segment_condition(rules=rules, now=now))

    orm_counts, orm_count = _timed(lambda: orm().count(), repeat)
    # The freeze's read: ids in id order through a server-side cursor, outside a
    # transaction (campaigns/freeze.py `_batches`), one pass each.
    freezes, frozen = _timed(
        lambda: sum(1 for _ in orm().order_by("id").values_list("id").iterator(2000)), 1
    )
    found = {
        count["after"],
        count["before"],
        preview["after"].count,
        preview["before"].count,
        orm_count["after"],
        orm_count["before"],
        frozen["after"],
        frozen["before"],
    }
    assert len(found) == 1, (label, count, orm_count, frozen)
    row = {
        "bench": "segments",
        "size": size,
        "run": run,
        "segment": label,
        "rules": rules,
        "count": count["after"],
        "median_ms": med(counts["after"]),
        "times_ms": [round(x, 1) for x in counts["after"]],
        "ok": med(counts["after"]) < 1000,
        "preview_median_ms": med(previews["after"]),
        "preview_ok": med(previews["after"]) < 1000,
        "before_median_ms": med(counts["before"]),
        "before_preview_median_ms": med(previews["before"]),
        "orm_median_ms": med(orm_counts["after"]),
        "before_orm_median_ms": med(orm_counts["before"]),
        "freeze_ms": med(freezes["after"]),
        "before_freeze_ms": med(freezes["before"]),
        "loadavg_before": load,
        "loadavg_after": h.loadavg(),
    }
    if explain:
        for name in ("before", "after"):
            with _Code(name):
                # The count's own statement, after its SET LOCALs (segment_count), and the
                # ORM's (the freeze's WHERE, the server's defaults).
                with CaptureQueriesContext(connection) as captured:
                    segment_count(segment=segment, now=now)
                row[f"{name}_plan"] = _explain([q["sql"] for q in captured.captured_queries])
                with CaptureQueriesContext(connection) as captured:
                    list(orm().order_by("id").values_list("id")[:1])
                last = captured.captured_queries[-1]["sql"].rsplit(" LIMIT ", 1)[0]
                row[f"{name}_orm_plan"] = _explain([last])
    return row


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
                print(
                    json.dumps(
                        {
                            "bench": "segments_build",
                            "size": args.size,
                            "run": run,
                            "seconds": round(time.perf_counter() - start),
                            **counts,
                        }
                    ),
                    flush=True,
                )
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
