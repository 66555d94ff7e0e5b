"""The launch forecast (issue 26 #5): `campaign_forecast(...)` over a 1M-contact audience.

`python -m bench.forecast --size N [--runs R] [--repeat 3] [--naive-size 100000] [--keep]
[--reuse]` builds a
fresh database `herald_bench_forecast_N` (untimed, COPY): N contacts on one list, spread over
numbers without a time zone (GB and French mobiles, Australian mobiles whose zones span the
continent, US numbers in New York, Los Angeles and the South Dakota area code whose exchanges
straddle two zones) and contacts with a zone of their own; ~2 % opted out. Then, per run, the
forecast of a campaign with its own quiet hours and of one under the countries' rules, each
`--repeat` times (median), as of a fixed night-time UTC instant so that most recipients wait.

Side by side in the same run: the same decisions taken the way the freeze takes them, one
recipient at a time (`QuietHours.wait` over every contact of a `--naive-size` sample, rows
read from the database), as wall microseconds per recipient, so the ratio says what grouping in
SQL buys on the same (shared, loaded) machine.
"""

import argparse
import datetime as dt
import json
import random
import statistics
import time

import psycopg

from bench import harness as h

# (share, phone maker, country, language, own time zone or "")
NOW = dt.datetime(2026, 12, 8, 5, 0, tzinfo=dt.UTC)  # night in Europe and America
MIX = [
    (40, lambda i: f"+4479{i:08d}", "GB", "en", ""),
    (10, lambda i: f"+336{i:08d}", "FR", "fr", ""),
    (8, lambda i: f"+614{i:08d}", "AU", "en", ""),
    (12, lambda i: f"+1212{i:07d}", "US", "en", ""),
    (8, lambda i: f"+1213{i:07d}", "US", "en", ""),
    (4, lambda i: f"+1605{(201 + i % 9):03d}{i % 10000:04d}", "US", "en", ""),
    (18, lambda i: f"+4478{i:08d}", "GB", "en", "Europe/London"),
]


def build(db: str, size: int) -> int:
    """N contacts on one list, written with COPY; returns the list id."""
    rng = random.Random(26)
    h.setup_django(h.db_url(db), h.broker_url(13))
    weights = [share for share, *_ in MIX]
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(h.db_url(db), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        list_id = conn.execute(
            "INSERT INTO contacts_contactlist (name, description, created_at) "
            "VALUES ('Everyone', '', now()) RETURNING id"
        ).fetchone()[0]
        seen: set[str] = set()
        with conn.cursor().copy(
            "COPY contacts_contact (id, phone, first_name, last_name, language, timezone, country,"
            " attributes, opted_out, opted_out_at, opted_out_source, opted_out_channel,"
            " created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(1, size + 1):
                _, make, country, language, zone = rng.choices(MIX, weights=weights)[0]
                phone = make(i)
                if phone in seen:  # the South Dakota maker repeats: fall back to a GB mobile
                    phone, country, language, zone = f"+4479{i:08d}", "GB", "en", ""
                seen.add(phone)
                out = rng.random() < 0.02
                copy.write_row(
                    (
                        i,
                        phone,
                        f"Ann{i}",
                        "",
                        language,
                        zone,
                        country,
                        "{}",
                        out,
                        now if out else None,
                        "keyword" if out else "",
                        "all" if out else "",
                        now,
                        now,
                    )
                )
        conn.execute("SELECT setval(pg_get_serial_sequence('contacts_contact', 'id'), %s)", (size,))
        with conn.cursor().copy(
            "COPY contacts_listmembership (added_at, contact_id, contact_list_id) FROM STDIN"
        ) as copy:
            for i in range(1, size + 1):
                copy.write_row((now, i, list_id))
        for table in ("contacts_contact", "contacts_listmembership", "contacts_contactlist"):
            conn.execute(f"VACUUM ANALYZE {table}")
    return list_id


def _campaigns(list_id: int) -> dict:
    from campaigns.models import Campaign

    made = {}
    for label, window in (
        ("own quiet hours 21:00-08:00", (dt.time(8), dt.time(21))),
        ("the countries' rules", None),
    ):
        campaign = Campaign.objects.create(
            name=label,
            channel="sms",
            text="Hi {{first_name}}, our winter sale starts today.",
            quiet_hours_start=window[0] if window else None,
            quiet_hours_end=window[1] if window else None,
            speed_limit=600,
        )
        campaign.lists.set([list_id])
        made[label] = campaign
    return made


def measure(size: int, run: int, repeat: int, naive_size: int, list_id: int) -> list[dict]:
    from campaigns.audience import audience_contacts
    from campaigns.forecast import campaign_forecast
    from campaigns.quiet import QuietHours

    results = []
    for label, campaign in _campaigns(list_id).items():
        load = h.loadavg()
        times, cpu, forecast = [], [], None
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            forecast = campaign_forecast(campaign=campaign, now=NOW)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        # The freeze's way: each recipient's decision in Python, over a sample.
        quiet = QuietHours(start=campaign.quiet_hours_start, end=campaign.quiet_hours_end, now=NOW)
        rows = (
            audience_contacts(campaign)
            .filter(opted_out=False)
            .order_by("id")
            .values_list("phone", "country", "timezone")[:naive_size]
        )
        t, c = time.perf_counter(), time.process_time()
        n = sum(
            1
            for phone, country, zone in rows.iterator(chunk_size=5000)
            if quiet.wait(phone=phone, country=country, timezone=zone) is not None
        )
        naive_us = (time.perf_counter() - t) * 1e6 / max(n, 1)
        naive_cpu_us = (time.process_time() - c) * 1e6 / max(n, 1)
        median = statistics.median(times)
        # Wall time per recipient, both ways, in the same run: the forecast's cost is mostly
        # PostgreSQL's (this process's CPU is the few groups' decisions).
        per_recipient_us = median * 1000 / max(forecast.audience, 1)
        results.append(
            {
                "bench": "forecast",
                "size": size,
                "run": run,
                "campaign": label,
                "median_ms": round(median, 1),
                "times_ms": [round(x, 1) for x in times],
                "python_cpu_ms": round(statistics.median(cpu), 1),
                "us_per_recipient": round(per_recipient_us, 3),
                "naive_us_per_recipient": round(naive_us, 2),
                "naive_python_cpu_us_per_recipient": round(naive_cpu_us, 2),
                "naive_sample": n,
                "naive_over_forecast": round(naive_us / per_recipient_us, 1),
                "send_now": forecast.send_now,
                "waiting": forecast.waiting_total,
                "groups": len(forecast.schedule),
                "ok": median < 1000,
                "loadavg_before": load,
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive-size", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", action="store_true", help="measure on a kept database")
    args = parser.parse_args(argv)
    h.stop_on_sigterm()
    db = f"herald_bench_forecast_{args.size}"
    try:
        for run in range(args.runs):
            start = time.perf_counter()
            if args.reuse:
                h.setup_django(h.db_url(db), h.broker_url(13))
                from campaigns.models import Campaign
                from contacts.models import ContactList

                Campaign.objects.all().delete()
                list_id = ContactList.objects.get(name="Everyone").pk
            else:
                h.create_db(db)
                list_id = build(db, args.size)
            built = {
                "bench": "forecast_build",
                "size": args.size,
                "run": run,
                "seconds": round(time.perf_counter() - start),
            }
            print(json.dumps(built), flush=True)
            for row in measure(args.size, run, args.repeat, args.naive_size, list_id):
                print(json.dumps(row, default=str), flush=True)
            from django.db import connections

            connections.close_all()
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep and not args.reuse:
            h.drop_db(db)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
