"""Split tests and conversions at scale, on the 10M-row ledger of bench.pages.

`python -m bench.conversions [--keep] [--conversions 20000] [--batch 1000] [--samples 1000]`:

1. Conversions attributed per second through the batched endpoint (`POST /api/v1/conversions`
   with `--batch` orders a call, in-process with Django's test Client, like bench.pages):
   wall time of all calls, CPU of this process, load average before.
2. One attribution statement (TOUCHES_SQL for one conversion) timed `--samples` times for
   random contacts: p50 / p99 / max in ms (each contact has 10 messages in the ledger, a click
   on 2 % of messages and a reply from 5 % of contacts, so every probe finds work).
   Both are measured for the statement before (BEFORE_SQL: clicks looked up per message, the
   credited message read again by id) and after (conversions.attribution.TOUCHES_SQL), on the
   same data in the same run: the API in alternating rounds (other random contacts each), the
   statement interleaved sample by sample. The clicks are stored without a contact, as the
   code before stored them, and given theirs by the upgrade's backfill (timed).
3. The campaign page (and its progress fragment) of a 1M-recipient split campaign (variants,
   holdout, evaluation, conversions), side by side with the same page of a plain 1M campaign.
4. The freeze of a 100,000-contact audience, plain and with a split (20 % test in two variants,
   5 % holdout), twice each interleaved: the draw's cost on the hot path, as a ratio.

The 10M-row database is bench.pages' (`herald_bench_pages`, built when missing; kept with
--keep). What this adds to it (a split on one campaign, clicks, replies, conversions, two
freezes) is removed at the end, so bench.pages measures the same database either way.
"""

import argparse
import contextlib
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import psycopg

from bench import harness as h
from bench import pages

# The attribution statement before clicks carried their contact (commit ae6ba5a), kept to
# measure before → after on the same data in one run.
BEFORE_SQL = """
WITH i AS (
    SELECT * FROM jsonb_to_recordset(%(claims)s::jsonb)
        AS i(conversion_id bigint, contact_id bigint, at timestamptz)
)
SELECT i.conversion_id, cl.message_id, cl.clicked_at, rp.message_id, rp.received_at,
       dl.id, dl.done_at, ho.campaign_id, best.campaign_id, best.variant, best.message_id::text
  FROM i
  LEFT JOIN LATERAL (
      SELECT m.id AS message_id, c.clicked_at
        FROM campaigns_message m JOIN infobip_click c ON c.message_id = m.id
       WHERE m.contact_id = i.contact_id
         AND m.created_at <= i.at AND m.created_at > i.at - %(click)s - %(horizon)s
         AND c.clicked_at <= i.at AND c.clicked_at > i.at - %(click)s
       ORDER BY c.clicked_at DESC, c.id DESC LIMIT 1) cl ON true
  LEFT JOIN LATERAL (
      SELECT r.received_at, sent.id AS message_id
        FROM infobip_inboundmessage r
        JOIN LATERAL (
            SELECT m.id FROM campaigns_message m
             WHERE m.contact_id = i.contact_id
               AND m.created_at <= r.received_at
               AND m.created_at > r.received_at - %(reply)s - %(horizon)s
               AND COALESCE(m.accepted_at, m.claimed_at) <= r.received_at
             ORDER BY COALESCE(m.accepted_at, m.claimed_at) DESC, m.id DESC LIMIT 1) sent ON true
       WHERE r.contact_id = i.contact_id AND r.keyword_action = ''
         AND r.received_at <= i.at AND r.received_at > i.at - %(reply)s
       ORDER BY r.received_at DESC, r.id DESC LIMIT 1) rp ON true
  LEFT JOIN LATERAL (
      SELECT m.id, m.done_at FROM campaigns_message m
       WHERE m.contact_id = i.contact_id AND m.state = 'delivered'
         AND m.created_at <= i.at AND m.created_at > i.at - %(delivery)s - %(horizon)s
         AND m.done_at <= i.at AND m.done_at > i.at - %(delivery)s
       ORDER BY m.done_at DESC, m.id DESC LIMIT 1) dl ON true
  LEFT JOIN LATERAL (
      SELECT m.campaign_id FROM campaigns_message m
       WHERE m.contact_id = i.contact_id AND m.split_group = 0
         AND m.created_at <= i.at AND m.created_at > i.at - %(lift)s
       ORDER BY m.created_at DESC LIMIT 1) ho ON true
  LEFT JOIN campaigns_message best ON best.id = COALESCE(cl.message_id, rp.message_id, dl.id)
"""
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
        "1": {
            "recipients": 100_000,
            "delivered": 80_000,
            "clicks": 1_600,
            "replies": 400,
            "conversions": 120,
            "revenue": "4800.00",
        },
        "2": {
            "recipients": 100_000,
            "delivered": 80_000,
            "clicks": 2_100,
            "replies": 420,
            "conversions": 160,
            "revenue": "6400.00",
        },
    }
    SplitTest.objects.create(
        campaign_id=campaign_id,
        test_share=20,
        holdout=5,
        winner_by="clicks",
        state="done",
        winner=2,
        decided_at=dt.datetime.now(dt.UTC),
        decision="B is best by clicks (bench)",
        plan={"variants": [100_000, 100_000], "holdout": 50_000, "rest": 750_000},
        evaluation={
            "at": dt.datetime.now(dt.UTC).isoformat(),
            "metric": "clicks",
            "figures": figures,
            "probabilities": {"A": 0.0, "B": 1.0},
            "leader": "B",
            "certain": True,
            "sizes": {"holdout": 50_000, "waiting": 0, "rest": 750_000},
            "lift": None,
        },
        history=[{"at": str(i), "p": {"A": 0.5 - i / 200, "B": 0.5 + i / 200}} for i in range(96)],
    )
    with psycopg.connect(h.db_url(pages.DB), autocommit=True) as conn:
        conn.execute(SPLIT_ROWS_SQL, (campaign_id,))


@contextlib.contextmanager
def _engine(name: str) -> Iterator[None]:
    """Attribute with the statement `name` ("before" or "after") inside the block."""
    from conversions import attribution

    after = attribution.TOUCHES_SQL
    attribution.TOUCHES_SQL = BEFORE_SQL if name == "before" else after
    try:
        yield
    finally:
        attribution.TOUCHES_SQL = after


def _backfill() -> dict:
    """The upgrade's backfill of clicks' contacts (the clicks were stored without one)."""
    from campaigns.clicks import clicks_contacts_fill

    load = h.loadavg()
    started = time.perf_counter()
    filled = clicks_contacts_fill()
    seconds = time.perf_counter() - started
    with psycopg.connect(h.db_url(pages.DB), autocommit=True) as conn:
        conn.execute("ANALYZE infobip_click")
    return {
        "bench": "clicks_backfill",
        "clicks": filled,
        "seconds": round(seconds, 2),
        "per_s": round(filled / seconds),
        "loadavg_before": load,
    }


def _conversions_rounds(
    total: int, batch: int, rounds: int, engines: tuple[str, ...] = ("before", "after")
) -> list[dict]:
    """The API before and after, alternating (other random contacts each run)."""
    rows = []
    for r in range(rounds):
        for name in engines if r % 2 == 0 else tuple(reversed(engines)):
            with _engine(name):
                row = _conversions(
                    total, batch, seed=7 + 2 * r + (name == "after"), prefix=f"bench-{r}-{name}"
                )
            rows.append({"engine": name, "round": r, **row})
    return rows


def _conversions(total: int, batch: int, seed: int = 7, prefix: str = "bench") -> dict:
    """Orders through POST /api/v1/conversions, `batch` a call; conversions per second."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from api.tokens import api_token_create

    user = get_user_model().objects.get(username="bench-admin")
    _, secret = api_token_create(user=user, scopes=["read", "conversions:write"])
    client = Client()
    rng = random.Random(seed)
    bodies = []
    for start in range(0, total, batch):
        items = [
            {
                "order_id": f"{prefix}-{i}",
                "value": "40.00",
                "contact": {"phone": f"+4479{rng.randint(1, pages.CONTACTS):08d}"},
            }
            for i in range(start, min(start + batch, total))
        ]
        bodies.append(json.dumps({"conversions": items}))
    load = h.loadavg()
    cpu, wall = time.process_time(), time.perf_counter()
    credited = 0
    for body in bodies:
        response = client.post(
            "/api/v1/conversions",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )
        assert response.status_code == 200, response.content[:300]
        data = response.json()
        assert data["created"] == len(json.loads(body)["conversions"]), data["rejected"][:3]
        credited += sum(1 for r in data["results"] if r["attributed_to"] is not None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "bench": "conversions_api",
        "conversions": total,
        "batch": batch,
        "seconds": round(wall, 2),
        "per_s": round(total / wall),
        "credited": credited,
        "web_cpu_us_per_conversion": round(cpu / total * 1e6),
        "ok": total / wall >= 2000,
        "loadavg_before": load,
    }


def _attribution_probe(samples: int) -> list[dict]:
    """One conversion's attribution statement, for random contacts: p50 / p99 in ms, before
    and after, interleaved sample by sample (each its own random contact).

    TOUCHES_SQL goes through a bound, prepared psycopg cursor that Django's execute wrappers
    do not see, so the statement is timed around `touches()` (parameters, execution on the
    server, rows back); the whole `attribute()` of one conversion (with the reason and the
    variant names) is timed beside it."""
    from django.utils import timezone

    from conversions.attribution import Claim, attribute, touches
    from conversions.rule import rule_current

    rule = rule_current()
    rng = random.Random(11)
    statement: dict[str, list[float]] = {"before": [], "after": []}
    whole: dict[str, list[float]] = {"before": [], "after": []}
    load = h.loadavg()
    now = timezone.now()
    for i in range(samples):
        for name in ("before", "after") if i % 2 == 0 else ("after", "before"):
            with _engine(name):
                contact = rng.randint(1, pages.CONTACTS)
                claim = Claim(conversion_id=-1 - i, contact_id=contact, at=now)
                started = time.perf_counter()
                touches(claims=[claim], rule=rule)
                statement[name].append((time.perf_counter() - started) * 1000)
                claim = Claim(
                    conversion_id=-1 - i, contact_id=rng.randint(1, pages.CONTACTS), at=now
                )
                started = time.perf_counter()
                attribute(claims=[claim], rule=rule)
                whole[name].append((time.perf_counter() - started) * 1000)

    def p99(times: list[float]) -> float:
        return times[max(0, int(len(times) * 0.99) - 1)]

    rows = []
    for name in ("before", "after"):
        times, all_of = sorted(statement[name]), sorted(whole[name])
        rows.append(
            {
                "bench": "attribution_query",
                "engine": name,
                "samples": len(times),
                "p50_ms": round(statistics.median(times), 2),
                "p99_ms": round(p99(times), 2),
                "max_ms": round(times[-1], 2),
                "attribute_p50_ms": round(statistics.median(all_of), 2),
                "attribute_p99_ms": round(p99(all_of), 2),
                "ok": p99(times) < 5,
                "loadavg_before": load,
            }
        )
    return rows


def _buffers(samples: int) -> list[dict]:
    """Pages one conversion's statement touches and reads (EXPLAIN (ANALYZE, BUFFERS), random
    contacts, before and after interleaved): the load-independent figure behind the times."""
    from django.conf import settings
    from django.utils import timezone

    from conversions.attribution import HORIZON
    from conversions.rule import rule_current

    rule = rule_current()
    rng = random.Random(13)
    now = timezone.now().isoformat()
    found: dict[str, list[tuple[int, int]]] = {"before": [], "after": []}
    with psycopg.connect(h.db_url(pages.DB), autocommit=True) as conn:
        for i in range(samples):
            for name in ("before", "after") if i % 2 == 0 else ("after", "before"):
                from conversions import attribution

                statement = BEFORE_SQL if name == "before" else attribution.TOUCHES_SQL
                claims = [
                    {"conversion_id": 1, "contact_id": rng.randint(1, pages.CONTACTS), "at": now}
                ]
                params = {
                    "claims": json.dumps(claims),
                    "click": rule.click_window,
                    "reply": rule.reply_window,
                    "delivery": rule.delivery_window,
                    "lift": settings.HERALD_LIFT_WINDOW,
                    "horizon": HORIZON,
                }
                explained = conn.execute(
                    "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) " + statement, params
                ).fetchone()[0][0]
                plan = explained["Plan"]
                hit, read = plan["Shared Hit Blocks"], plan["Shared Read Blocks"]
                found[name].append((hit + read, read, explained["Execution Time"]))

    def p99(times: list[float]) -> float:
        return sorted(times)[max(0, int(len(times) * 0.99) - 1)]

    return [
        {
            "bench": "attribution_buffers",
            "engine": name,
            "samples": len(rows),
            "pages_touched": round(statistics.mean(t for t, _, _ in rows), 1),
            "pages_read": round(statistics.mean(r for _, r, _ in rows), 1),
            "server_p50_ms": round(statistics.median(e for _, _, e in rows), 2),
            "server_p99_ms": round(p99([e for _, _, e in rows]), 2),
        }
        for name, rows in found.items()
    ]


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
    for label, name in (
        ("campaign page", "ui:campaign"),
        ("campaign progress fragment", "ui:campaign_progress"),
    ):
        load = h.loadavg()
        split_ms, split_q = _page(reverse(name, args=[split_id]), repeat)
        plain_ms, plain_q = _page(reverse(name, args=[plain_id]), repeat)
        rows.append(
            {
                "bench": "split_page",
                "page": label,
                "split_ms": split_ms,
                "plain_ms": plain_ms,
                "split_over_plain": round(split_ms / plain_ms, 2),
                "queries_split": split_q,
                "queries_plain": plain_q,
                "ok": split_ms < 100,
                "loadavg_before": load,
            }
        )
    return rows


def _evaluation(split_id: int, repeat: int = 4) -> dict:
    """One sweep's evaluation of the 1M split (the test's 200,000 rows, clicks, replies,
    conversions, the Monte Carlo and the lift): what the beat pays per testing campaign.

    The first evaluation counts the groups' sizes from the ledger, as every sweep did before;
    the next ones take them from it (they do not change while the split is testing or done):
    before → after on the same data, the later ones' median."""
    from django.utils import timezone

    from campaigns.models import SplitTest
    from conversions.evaluate import split_evaluate

    load = h.loadavg()
    times = []
    for _ in range(repeat):
        split = SplitTest.objects.select_related("campaign").get(campaign_id=split_id)
        started = time.perf_counter()
        split_evaluate(split=split, now=timezone.now(), decide=False)
        times.append(time.perf_counter() - started)
    later = statistics.median(times[1:])
    return {
        "bench": "split_evaluation",
        "test_rows": 200_000,
        "counting_s": round(times[0], 2),
        "median_s": round(later, 2),
        "after_over_before": round(later / times[0], 2),
        "loadavg_before": load,
    }


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
            "SELECT now(), id, %s FROM contacts_contact WHERE id <= %s",
            (audience.pk, size),
        )
    times: dict[str, list[float]] = {"plain": [], "split": []}
    load = h.loadavg()
    for _ in range(2):
        for kind in ("plain", "split"):
            extra = {}
            if kind == "split":
                extra = {
                    "variants": [
                        VariantSpec(name="A", text=h.TEXT),
                        VariantSpec(name="B", text=h.TEXT + " Go!"),
                    ],
                    "test": SplitSpec(share=20, holdout=5),
                }
            campaign = campaign_create(
                name=f"bench freeze {kind}", channel="sms", lists=[audience], text=h.TEXT, **extra
            )
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
    return {
        "bench": "freeze_split",
        "size": size,
        "plain_s": round(plain, 2),
        "split_s": round(split, 2),
        "split_over_plain": round(split / plain, 2),
        "loadavg_before": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keep", action="store_true", help="keep the 10M-row database")
    parser.add_argument("--conversions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=2, help="API runs before and after each")
    parser.add_argument(
        "--steps", default="", help="some of backfill,api,statement,pages,evaluation,freeze"
    )
    parser.add_argument(
        "--engines",
        default="before,after",
        help="the API's statements: `after` alone when the before one is too slow to repeat",
    )
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
            conn.execute("ANALYZE infobip_inboundmessage")
        _split(split_id)
        steps = {
            "backfill": lambda: [_backfill()],
            "api": lambda: _conversions_rounds(
                args.conversions, args.batch, args.rounds, tuple(args.engines.split(","))
            ),
            "statement": lambda: _attribution_probe(args.samples) + _buffers(200),
            "pages": lambda: _pages(split_id, plain_id, args.repeat),
            "evaluation": lambda: [_evaluation(split_id)],
            "freeze": lambda: [_freezes(min(args.freeze_size, pages.CONTACTS))],
        }
        rows = pages.ledger_rows()
        for name, step in steps.items():
            if args.steps and name not in args.steps.split(","):
                continue
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
