"""Split tests and conversions at scale, on the 10M-row ledger of bench.pages.

`python -m bench.conversions [--keep] [--conversions 20000] [--batch 1000] [--samples 1000]`:

1. Conversions attributed per second through the batched endpoint (`POST /api/v1/conversions`
   with `--batch` orders a call, in-process with Django's test Client, like bench.pages):
   wall time of all calls, CPU of this process, load average before.
2. One attribution statement (TOUCHES_SQL for one conversion) timed `--samples` times for
   random contacts: p50 / p99 / max in ms (each contact has 10 messages in the ledger, a click
   on 2 % of messages and a reply from 5 % of contacts, so every probe finds work).
3. The campaign page (and its progress fragment) of a 1M-recipient split campaign (variants,
   holdout, evaluation, conversions), side by side with the same page of a plain 1M campaign.
4. The freeze of a 100,000-contact audience, plain and with a split (20 % test in two variants,
   5 % holdout), twice each interleaved: the draw's cost on the hot path, as a ratio.

The 10M-row database is bench.pages' (`herald_bench_pages`, built when missing; kept with
--keep). What this adds to it (a split on one campaign, clicks, replies, conversions, two
freezes) is removed at the end, so bench.pages measures the same database either way.
"""

import argparse
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import time

import psycopg

from bench import harness as h
from bench import pages

CLICKS_SQL = """
    INSERT INTO infobip_click (index, campaign_id, message_id, infobip_message_id, url,
        recipient, clicked_at, device_type, os, device_name, country, city, raw)
    SELECT 0, m.campaign_id, m.id, '', 'https://shop.example/s', m.phone, now() - interval '2 h',
        '', '', '', '', '', '{}'
    FROM campaigns_message m WHERE m.id % 50 = 7
"""
REPLIES_SQL = """
    INSERT INTO infobip_inboundmessage (channel, contact_id, infobip_message_id, from_number,
        to_number, message_type, text, clean_text, keyword, media_url, payload, received_at,
        created_at, keyword_action, reply_text, reply_status, reply_message_id, reply_error)
    SELECT 'sms', c.id, 'bench-in-' || c.id, c.phone, '447860099299', 'TEXT', 'yes please',
        'yes please', '', '', '{}', now() - interval '3 h', now(), '', '', '', '', ''
    FROM contacts_contact c WHERE c.id % 20 = 3
"""
# The split campaign's groups by ledger id: 5 % holdout, 10 % A, 10 % B, the rest got B.
SPLIT_ROWS_SQL = """
    UPDATE campaigns_message SET
        split_group = CASE WHEN id %% 20 = 0 THEN 0 WHEN id %% 20 < 5 THEN 1 ELSE 2 END,
        variant = CASE WHEN id %% 20 = 0 THEN NULL WHEN id %% 20 < 3 THEN 1 ELSE 2 END,
        state = CASE WHEN id %% 20 = 0 THEN 'skipped' ELSE state END
    WHERE campaign_id = %s
"""
CLEANUP_SQL = [
    "DELETE FROM conversions_credit",
    "DELETE FROM conversions_conversion",
    "DELETE FROM infobip_click WHERE infobip_message_id = ''",
    "DELETE FROM infobip_inboundmessage WHERE infobip_message_id LIKE 'bench-in-%'",
]


def _split(campaign_id: int) -> None:
    """Make a 1M campaign a decided split test with a stored evaluation, as the sweep leaves it."""
    from campaigns.models import SplitTest, Variant

    Variant.objects.create(campaign_id=campaign_id, position=1, name="A", text=h.TEXT)
    Variant.objects.create(campaign_id=campaign_id, position=2, name="B", text=h.TEXT + " Go!")
    figures = {
        "1": {"recipients": 100_000, "delivered": 80_000, "clicks": 1_600, "replies": 400,
              "conversions": 120, "revenue": "4800.00"},
        "2": {"recipients": 100_000, "delivered": 80_000, "clicks": 2_100, "replies": 420,
              "conversions": 160, "revenue": "6400.00"},
    }  # fmt: skip
    SplitTest.objects.create(
        campaign_id=campaign_id, test_share=20, holdout=5, winner_by="clicks", state="done",
        winner=2, decided_at=dt.datetime.now(dt.UTC), decision="B is best by clicks (bench)",
        plan={"variants": [100_000, 100_000], "holdout": 50_000, "rest": 750_000},
        evaluation={"at": dt.datetime.now(dt.UTC).isoformat(), "metric": "clicks",
                    "figures": figures, "probabilities": {"A": 0.0, "B": 1.0}, "leader": "B",
                    "certain": True, "sizes": {"holdout": 50_000, "waiting": 0, "rest": 750_000},
                    "lift": None},
        history=[{"at": str(i), "p": {"A": 0.5 - i / 200, "B": 0.5 + i / 200}} for i in range(96)],
    )  # fmt: skip
    with psycopg.connect(h.db_url(pages.DB), autocommit=True) as conn:
        conn.execute(SPLIT_ROWS_SQL, (campaign_id,))


def _conversions(total: int, batch: int) -> dict:
    """Orders through POST /api/v1/conversions, `batch` a call; conversions per second."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from api.tokens import api_token_create

    user = get_user_model().objects.get(username="bench-admin")
    _, secret = api_token_create(user=user, scopes=["read", "conversions:write"])
    client = Client()
    rng = random.Random(7)
    bodies = []
    for start in range(0, total, batch):
        items = [
            {"order_id": f"bench-{i}", "value": "40.00",
             "contact": {"phone": f"+4479{rng.randint(1, pages.CONTACTS):08d}"}}
            for i in range(start, min(start + batch, total))
        ]  # fmt: skip
        bodies.append(json.dumps({"conversions": items}))
    load = h.loadavg()
    cpu, wall = time.process_time(), time.perf_counter()
    credited = 0
    for body in bodies:
        response = client.post("/api/v1/conversions", body, content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {secret}")  # fmt: skip
        assert response.status_code == 200, response.content[:300]
        data = response.json()
        assert data["created"] == len(json.loads(body)["conversions"]), data["rejected"][:3]
        credited += sum(1 for r in data["results"] if r["attributed_to"] is not None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"bench": "conversions_api", "conversions": total, "batch": batch,
            "seconds": round(wall, 2), "per_s": round(total / wall), "credited": credited,
            "web_cpu_us_per_conversion": round(cpu / total * 1e6),
            "ok": total / wall >= 2000, "loadavg_before": load}  # fmt: skip


def _attribution_probe(samples: int) -> dict:
    """One conversion's attribution statement, for random contacts: p50 / p99 in ms.

    TOUCHES_SQL goes through a bound, prepared psycopg cursor that Django's execute wrappers
    do not see, so the statement is timed around `touches()` (parameters, execution on the
    server, rows back); the whole `attribute()` of one conversion (with the reason and the
    variant names) is timed beside it."""
    from django.utils import timezone

    from conversions.attribution import Claim, attribute, touches
    from conversions.rule import rule_current

    rule = rule_current()
    rng = random.Random(11)
    statement: list[float] = []
    whole: list[float] = []
    load = h.loadavg()
    now = timezone.now()
    for i in range(samples):
        claim = Claim(conversion_id=-1 - i, contact_id=rng.randint(1, pages.CONTACTS), at=now)
        started = time.perf_counter()
        touches(claims=[claim], rule=rule)
        statement.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        attribute(claims=[claim], rule=rule)
        whole.append((time.perf_counter() - started) * 1000)
    statement.sort()
    whole.sort()

    def p99(times: list[float]) -> float:
        return times[max(0, int(len(times) * 0.99) - 1)]

    return {"bench": "attribution_query", "samples": len(statement),
            "p50_ms": round(statistics.median(statement), 2), "p99_ms": round(p99(statement), 2),
            "max_ms": round(statement[-1], 2),
            "attribute_p50_ms": round(statistics.median(whole), 2),
            "attribute_p99_ms": round(p99(whole), 2),
            "ok": p99(statement) < 5, "loadavg_before": load}  # fmt: skip


def _page(url: str, repeat: int) -> tuple[float, int]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-admin"))
    client.get(url)  # warm-up
    times, queries = [], 0
    for _ in range(repeat):
        log: list[str] = []

        def count(ex, sql, p, m, c, log=log):
            log.append(sql)
            return ex(sql, p, m, c)

        with connection.execute_wrapper(count):
            t = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, url
        queries = len(log)
    return round(statistics.median(times), 1), queries


def _pages(split_id: int, plain_id: int, repeat: int) -> list[dict]:
    from django.urls import reverse

    rows = []
    for label, name in (("campaign page", "ui:campaign"),
                        ("campaign progress fragment", "ui:campaign_progress")):  # fmt: skip
        load = h.loadavg()
        split_ms, split_q = _page(reverse(name, args=[split_id]), repeat)
        plain_ms, plain_q = _page(reverse(name, args=[plain_id]), repeat)
        rows.append({"bench": "split_page", "page": label, "split_ms": split_ms,
                     "plain_ms": plain_ms, "split_over_plain": round(split_ms / plain_ms, 2),
                     "queries_split": split_q, "queries_plain": plain_q,
                     "ok": split_ms < 100, "loadavg_before": load})  # fmt: skip
    return rows


def _evaluation(split_id: int, repeat: int = 3) -> dict:
    """One sweep's evaluation of the 1M split (the test's 200,000 rows, clicks, replies,
    conversions, the Monte Carlo and the lift): what the beat pays per testing campaign."""
    from django.utils import timezone

    from campaigns.models import SplitTest
    from conversions.evaluate import split_evaluate

    split = SplitTest.objects.select_related("campaign").get(campaign_id=split_id)
    load = h.loadavg()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        split_evaluate(split=split, now=timezone.now(), decide=False)
        times.append(time.perf_counter() - started)
    return {"bench": "split_evaluation", "test_rows": 200_000,
            "median_s": round(statistics.median(times), 2), "loadavg_before": load}  # fmt: skip


def _freezes(size: int) -> dict:
    """Freeze a `size` audience plain and with a split, twice each interleaved; median times."""
    from django.utils import timezone

    from campaigns.freeze import campaign_freeze
    from campaigns.models import Campaign, Message
    from campaigns.services import campaign_create
    from campaigns.split import SplitSpec, VariantSpec
    from contacts.models import ContactList, ListMembership

    audience = ContactList.objects.create(name="bench-freeze")
    with psycopg.connect(h.db_url(pages.DB), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO contacts_listmembership (added_at, contact_id, contact_list_id) "
            "SELECT now(), id, %s FROM contacts_contact WHERE id <= %s", (audience.pk, size),
        )  # fmt: skip
    times: dict[str, list[float]] = {"plain": [], "split": []}
    load = h.loadavg()
    for _ in range(2):
        for kind in ("plain", "split"):
            extra = {}
            if kind == "split":
                extra = {"variants": [VariantSpec(name="A", text=h.TEXT),
                                      VariantSpec(name="B", text=h.TEXT + " Go!")],
                         "test": SplitSpec(share=20, holdout=5)}  # fmt: skip
            campaign = campaign_create(name=f"bench freeze {kind}", channel="sms",
                                       lists=[audience], text=h.TEXT, **extra)  # fmt: skip
            Campaign.objects.filter(pk=campaign.pk).update(
                state="cancelled", launched_at=timezone.now()
            )
            started = time.perf_counter()
            campaign_freeze(campaign=campaign)
            times[kind].append(time.perf_counter() - started)
            Message.objects.filter(campaign=campaign).delete()
            campaign.delete()
    ListMembership.objects.filter(contact_list=audience).delete()
    audience.delete()
    plain, split = statistics.median(times["plain"]), statistics.median(times["split"])
    return {"bench": "freeze_split", "size": size, "plain_s": round(plain, 2),
            "split_s": round(split, 2), "split_over_plain": round(split / plain, 2),
            "loadavg_before": load}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keep", action="store_true", help="keep the 10M-row database")
    parser.add_argument("--conversions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--samples", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--freeze-size", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=pages.CONTACTS, help="smaller: a try")
    parser.add_argument("--campaigns", type=int, default=pages.CAMPAIGNS)
    args = parser.parse_args(argv)
    h.stop_on_sigterm()
    pages.CONTACTS, pages.CAMPAIGNS = args.contacts, args.campaigns
    url = h.db_url(pages.DB)
    try:
        if pages.ledger_rows() < pages.CONTACTS * pages.CAMPAIGNS * 0.99:
            started = time.perf_counter()
            h.create_db(pages.DB)
            pages.build(url)
            built = round(time.perf_counter() - started)
            print(json.dumps({"bench": "pages_build", "seconds": built}), flush=True)
        else:
            migrate = [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"]
            subprocess.run(migrate, cwd=h.ROOT, env=h.django_env(url, h.broker_url(13)), check=True)
            h.setup_django(url, h.broker_url(13))
        from django.contrib.auth import get_user_model

        from campaigns.models import Campaign

        get_user_model().objects.get_or_create(
            username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
        )
        ids = list(Campaign.objects.order_by("id").values_list("id", flat=True))
        split_id, plain_id = ids[len(ids) // 2], ids[len(ids) // 2 + 1]
        with psycopg.connect(h.db_url(pages.DB), autocommit=True) as conn:
            conn.execute(CLICKS_SQL)
            conn.execute(REPLIES_SQL)
            conn.execute("ANALYZE infobip_click")
            conn.execute("ANALYZE infobip_inboundmessage")
        _split(split_id)
        steps = [
            lambda: [_conversions(args.conversions, args.batch)],
            lambda: [_attribution_probe(args.samples)],
            lambda: _pages(split_id, plain_id, args.repeat),
            lambda: [_evaluation(split_id)],
            lambda: [_freezes(min(args.freeze_size, pages.CONTACTS))],
        ]
        rows = pages.ledger_rows()
        for step in steps:
            # Each figure as soon as it is measured: a later failure does not lose it.
            for row in step():
                print(json.dumps({"ledger_rows": rows, **row}), flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            _restore()
        else:
            h.drop_db(pages.DB)
    return 0


def _restore() -> None:
    """Take out what this benchmark added, so the kept database is bench.pages' again."""
    with psycopg.connect(h.db_url(pages.DB), autocommit=True) as conn:
        for statement in CLEANUP_SQL:
            conn.execute(statement)
        conn.execute("DELETE FROM campaigns_variant")
        conn.execute("DELETE FROM campaigns_splittest")
        # The states bench.pages wrote (by contact: 8 in 10 delivered, then undeliverable, expired).
        conn.execute(
            "UPDATE campaigns_message SET variant = NULL, split_group = NULL, state = CASE"
            " contact_id % 10 WHEN 8 THEN 'undeliverable' WHEN 9 THEN 'expired'"
            " ELSE 'delivered' END WHERE split_group IS NOT NULL"
        )


if __name__ == "__main__":
    sys.exit(main())
