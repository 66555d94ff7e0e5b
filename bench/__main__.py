"""`python -m bench` (make bench): benchmarks 1–4, the API upsert (issue #18), segment counts
(issue #17), the launch forecast (issue 26 #5) and the paced campaign with vs without events
(issue 24), medians of several runs, written to bench/results/NAME-YYYY-MM-DD.{json,md} (NAME:
--name, default bench) and printed as a table. See bench/README.md.

Options: --sizes 10000,100000,1000000  --runs 3  --runs-large 3 (runs at ≥ 1M)  --only
fanout,import,pages,api_upsert,segments,forecast,journeys,conversions,paced_events
--naive-size 10000  --keep-pages (keep the 10M-row database for next time)  --api-sizes
(default: --sizes)  --segment-sizes (segments and forecast; default: the largest of --sizes)
--paced-size 18000. Each benchmark runs in its own process (bench.fanout, bench.importer,
bench.pages, bench.api_upsert, bench.segments, bench.forecast, bench.paced_events, …), one size
at a time, and prints JSON lines that are collected here.
"""

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import time

from bench import harness as h

RESULTS = h.ROOT / "bench" / "results"


def _run(module: str, *args: str) -> list[dict]:
    print(f"→ python -m {module} {' '.join(args)}", flush=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=h.ROOT, stdout=subprocess.PIPE, text=True
    )
    records = []
    for line in proc.stdout:
        if line.startswith("{"):
            record = json.loads(line)
            records.append(record)
            brief = {k: v for k, v in record.items() if not isinstance(v, dict | list)}
            print("  ", json.dumps(brief)[:300], flush=True)
    if proc.wait():
        print(f"   {module} exited with {proc.returncode}", flush=True)
    return records


def med(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None


def summarize(records: list[dict]) -> dict:
    """Medians per benchmark and size, and ratios computed run by run (side by side)."""
    by: dict[tuple, list[dict]] = {}
    for r in records:
        by.setdefault((r["bench"], r.get("size")), []).append(r)
    out: dict = {
        "fanout": {},
        "reports": {},
        "import": {},
        "pages": [],
        "api_upsert": {},
        "segments": [],
        "forecast": [],
    }
    sizes = sorted({s for b, s in by if b == "fanout_engine"})
    for size in sizes:
        engine = {r["run"]: r for r in by.get(("fanout_engine", size), [])}
        floor = {r["run"]: r for r in by.get(("fanout_floor", size), [])}
        naive = {r["run"]: r for r in by.get(("fanout_naive", size), [])}
        out["fanout"][size] = {
            "runs": len(engine),
            "engine_msgs_per_s": med([r["messages_per_s"] for r in engine.values()]),
            "engine_worker_peak_rss_mb": med([r["worker_peak_rss_mb"] for r in engine.values()]),
            "engine_worker_idle_rss_mb": med([r["worker_idle_hwm_mb"] for r in engine.values()]),
            "engine_worker_peak_pss_mb": med([r["worker_peak_pss_mb"] for r in engine.values()]),
            "floor_msgs_per_s": med([r["messages_per_s"] for r in floor.values()]),
            "engine_over_floor": med(
                [
                    engine[k]["messages_per_s"] / floor[k]["messages_per_s"]
                    for k in engine
                    if k in floor
                ]
            ),
            "naive_msgs_per_s": med([r["messages_per_s"] for r in naive.values()]),
            "engine_over_naive": med(
                [
                    engine[k]["messages_per_s"] / naive[k]["messages_per_s"]
                    for k in engine
                    if k in naive
                ]
            ),
            "all_ok": all(r["ok"] for r in [*engine.values(), *floor.values(), *naive.values()]),
            "loadavg_before": [r["loadavg_before"] for r in engine.values()],
        }
        reports = by.get(("reports", size), [])
        if reports:
            out["reports"][size] = {
                "runs": len(reports),
                "reports_applied_per_s": med([r["reports_applied_per_s"] for r in reports]),
                "probe_p50_ms": med([r["probe_latency_ms"].get("p50") for r in reports]),
                "probe_p99_ms": med([r["probe_latency_ms"].get("p99") for r in reports]),
                "server_p50_ms": med([r["server_time_ms"].get("p50") for r in reports]),
                "server_p99_ms": med([r["server_time_ms"].get("p99") for r in reports]),
                "all_ok": all(r["ok"] for r in reports),
                "loadavg_before": [r["loadavg_before"] for r in reports],
            }
    for (b, size), rows in sorted(by.items(), key=lambda kv: kv[0][1] or 0):
        if b == "import":
            out["import"][size] = {
                "runs": len(rows),
                "rows_per_s": med([r["rows_per_s"] for r in rows]),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
                "rejected": rows[0]["rejected"],
                "all_ok": all(r["ok"] for r in rows),
                "loadavg_before": [r["loadavg_before"] for r in rows],
            }
        if b == "api_upsert":
            out["api_upsert"][size] = {
                "runs": len(rows),
                "batch": rows[0]["batch"],
                "create_per_s": med([r["create_per_s"] for r in rows]),
                "update_per_s": med([r["update_per_s"] for r in rows]),
                "create_counts": rows[0].get("create_counts"),
                "update_counts": rows[0].get("update_counts"),
                "loadavg_before": [r["loadavg_before"] for r in rows],
            }
    out["pages"] = [r for r in records if r["bench"] == "pages"]
    out["conversions"] = [
        r
        for r in records
        if r["bench"]
        in (
            "conversions_api",
            "attribution_query",
            "split_page",
            "freeze_split",
            "split_evaluation",
            "attribution_buffers",
            "clicks_backfill",
        )
    ]
    segments: dict[tuple, list[dict]] = {}
    for r in records:
        if r["bench"] == "segments":
            segments.setdefault((r["size"], r["segment"]), []).append(r)
    for (size, label), rows in segments.items():
        previews = [r["preview_median_ms"] for r in rows if "preview_median_ms" in r]
        out["segments"].append(
            {
                "size": size,
                "segment": label,
                "runs": len(rows),
                "count": rows[0]["count"],
                "median_ms": med([r["median_ms"] for r in rows]),
                "preview_median_ms": med(previews) if previews else None,
                **{
                    k: med([r[k] for r in rows if k in r])
                    for k in (
                        "before_median_ms",
                        "before_preview_median_ms",
                        "orm_median_ms",
                        "before_orm_median_ms",
                        "freeze_ms",
                        "before_freeze_ms",
                    )
                },
                "loadavg_before": [r["loadavg_before"] for r in rows],
            }
        )
    pairs: dict[tuple, dict] = {}
    for r in records:
        if r["bench"] == "paced_events":
            pairs.setdefault((r["layout"], r["run"]), {})[r["subscribed"]] = r
    out["paced_events"] = [
        {
            "layout": layout,
            "run": run,
            "size": p[False]["size"],
            "speed": p[False]["speed"],
            "without_s": p[False]["seconds"],
            "with_s": p[True]["seconds"],
            "ratio": round(p[True]["seconds"] / p[False]["seconds"], 3),
            "events_received": p[True]["events_received"],
            "events_ok": p[True]["events_ok"],
            "loadavg_before": [p[False]["loadavg_before"], p[True]["loadavg_before"]],
        }
        for (layout, run), p in sorted(pairs.items())
        if True in p and False in p
    ]
    forecasts: dict[tuple, list[dict]] = {}
    for r in records:
        if r["bench"] == "forecast":
            forecasts.setdefault((r["size"], r["campaign"]), []).append(r)
    for (size, label), rows in forecasts.items():
        out["forecast"].append(
            {
                "size": size,
                "campaign": label,
                "runs": len(rows),
                "median_ms": med([r["median_ms"] for r in rows]),
                "us_per_recipient": med([r["us_per_recipient"] for r in rows]),
                "naive_us_per_recipient": med([r["naive_us_per_recipient"] for r in rows]),
                "naive_over_forecast": med([r["naive_over_forecast"] for r in rows]),
                "groups": rows[0]["groups"],
                "waiting": rows[0]["waiting"],
                "loadavg_before": [r["loadavg_before"] for r in rows],
            }
        )
    return out


def targets(s: dict) -> list[tuple[str, str, bool | None]]:
    """(target, measured, passed) — None when not measured in this run."""
    rows: list[tuple[str, str, bool | None]] = []
    f = s["fanout"]
    big = max(f) if f else None
    if big:
        v = f[big]["engine_msgs_per_s"]
        rows.append((f"fan-out ≥ 20,000 msg/s at {big:,}", f"{v:,.0f} msg/s", v >= 20000))
        v = f[big]["engine_over_floor"]
        rows.append((f"fan-out ≥ 0.5× the floor at {big:,}", f"{v:.2f}×", v >= 0.5))
        v = f[big]["engine_worker_peak_rss_mb"]
        rows.append((f"worker peak RSS < 250 MB at {big:,} (sum of VmHWM)", f"{v:.0f} MB", v < 250))
        v = f[big]["engine_worker_peak_pss_mb"]
        rows.append(
            (f"worker peak PSS < 250 MB at {big:,} (shared pages once)", f"{v:.0f} MB", v < 250)
        )
    naive = [(k, x) for k, x in f.items() if x["engine_over_naive"]]
    for k, x in naive:
        v = x["engine_over_naive"]
        rows.append((f"fan-out ≥ 100× naive (both at {k:,}, same run)", f"{v:.0f}×", v >= 100))
    if 100_000 in f and 1_000_000 in f:
        a = f[100_000]["engine_worker_peak_rss_mb"]
        b = f[1_000_000]["engine_worker_peak_rss_mb"]
        rows.append(("RSS flat from 100k to 1M (≤ +10 %)", f"{a:.0f} → {b:.0f} MB", b <= a * 1.1))
    elif 10_000 in f and 100_000 in f:
        a = f[10_000]["engine_worker_peak_rss_mb"]
        b = f[100_000]["engine_worker_peak_rss_mb"]
        rows.append(
            (
                "RSS flat from 10k to 100k (≤ +10 %; 1M not run)",
                f"{a:.0f} → {b:.0f} MB",
                b <= a * 1.1,
            )
        )
    r = s["reports"]
    if r:
        big = max(r)
        v = r[big]["reports_applied_per_s"]
        rows.append((f"reports ≥ 20,000/s at {big:,}", f"{v:,.0f}/s", v >= 20000))
        v = r[big]["probe_p99_ms"]
        rows.append((f"webhook p99 < 50 ms at {big:,} (probe)", f"{v} ms", v < 50))
    i = s["import"]
    if i:
        big = max(i)
        v = i[big]["rows_per_s"]
        rows.append((f"import ≥ 20,000 rows/s at {big:,}", f"{v:,.0f} rows/s", v >= 20000))
        v = i[big]["peak_rss_mb"]
        rows.append((f"import peak RSS < 250 MB at {big:,}", f"{v:.0f} MB", v < 250))
    a = s.get("api_upsert") or {}
    for size, x in sorted(a.items()):
        v = min(x["create_per_s"], x["update_per_s"])
        rows.append(
            (
                f"API contact upsert ≥ 10,000 contacts/s at {size:,} (batches of "
                f"{x['batch']:,}; the slower of create and update)",
                f"{v:,.0f}/s",
                v >= 10_000,
            )
        )
    for x in s.get("segments") or []:
        rows.append(
            (
                f'segment count "{x["segment"]}" < 1 s at {x["size"]:,}',
                f"{x['median_ms']:,} ms",
                x["median_ms"] < 1000,
            )
        )
        if x.get("preview_median_ms") is not None:
            rows.append(
                (
                    f'segment live count and sample "{x["segment"]}" < 1 s at {x["size"]:,}',
                    f"{x['preview_median_ms']:,} ms",
                    x["preview_median_ms"] < 1000,
                )
            )
    for x in s.get("conversions") or []:
        # The statement before (kept in bench.conversions) is measured beside it: labelled.
        engine = f" [{x['engine']}]" if x.get("engine") else ""
        if x["bench"] == "conversions_api":
            name = f"conversions attributed ≥ 2,000/s (batches of {x['batch']:,}, 10M ledger)"
            rows.append((name + engine, f"{x['per_s']:,}/s", x["ok"]))
        elif x["bench"] == "attribution_query":
            rows.append(
                (
                    "attribution query p99 < 5 ms (10M-row ledger)" + engine,
                    f"{x['p99_ms']} ms (p50 {x['p50_ms']})",
                    x["ok"],
                )
            )
        elif x["bench"] == "split_page" and x["page"] == "campaign page":
            rows.append(
                (
                    "campaign page with variants < 100 ms at 1M recipients",
                    f"{x['split_ms']} ms ({x['split_over_plain']}× the plain page)",
                    x["ok"],
                )
            )
    for x in s.get("forecast") or []:
        rows.append(
            (
                f"launch forecast ({x['campaign']}) < 1 s at {x['size']:,}",
                f"{x['median_ms']:,} ms",
                x["median_ms"] < 1000,
            )
        )
    for x in s.get("history") or []:
        v = x["archive"]["seconds"]
        rows.append(
            (f"archive a finished {x['size']:,}-recipient campaign < 60 s", f"{v} s", v < 60)
        )
        t = x["tables_mb"]
        rows.append(
            (
                "live tables back to their size after it (heap + indexes, after VACUUM)",
                f"{t['before']:,} → {t['with_campaign']:,} → {t['after_archive']:,} MB",
                t["after_archive"] <= t["before"] * 1.05,
            )
        )
    for p in s["pages"]:
        if p.get("median_ms") is None:
            rows.append((f"page {p['page']} < 100 ms", p.get("status", ""), None))
        else:
            rows.append(
                (f"page {p['page']} < 100 ms", f"{p['median_ms']} ms", p["median_ms"] < 100)
            )
    return rows


def markdown(meta: dict, s: dict) -> str:
    lines = [
        f"# Herald benchmarks — {meta['date']}",
        "",
        f"Machine: {meta['machine']}.",
        "",
        f"Command: `{meta['command']}`; {meta['note']}",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "| --- | --- | --- |",
    ]
    for name, value, ok in targets(s):
        lines.append(
            f"| {name} | {value} | {'pass' if ok else 'not measured' if ok is None else 'MISS'} |"
        )
    lines += [
        "",
        "## 1. SMS fan-out (medians; ratios per run, side by side)",
        "",
        "| recipients | runs | engine msg/s | floor msg/s | engine/floor | naive msg/s | "
        "engine/naive | worker RSS MB: idle → peak (VmHWM sum) | peak PSS MB | "
        "load before runs |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for size, x in sorted(s["fanout"].items()):
        lines.append(
            f"| {size:,} | {x['runs']} | {x['engine_msgs_per_s']:,.0f} | "
            f"{x['floor_msgs_per_s'] or 0:,.0f} | {x['engine_over_floor'] or 0:.2f} | "
            f"{x['naive_msgs_per_s'] or '–'} | {x['engine_over_naive'] or '–'} | "
            f"{x['engine_worker_idle_rss_mb']} → {x['engine_worker_peak_rss_mb']} | "
            f"{x['engine_worker_peak_pss_mb']} | {_loads(x['loadavg_before'])} |"
        )
    lines += [
        "",
        "## 2. Delivery-report ingestion (each batch of 100 pushed twice)",
        "",
        "| reports | runs | applied/s | probe p50 / p99 ms | server p50 / p99 ms | "
        "load before runs |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for size, x in sorted(s["reports"].items()):
        lines.append(
            f"| {size:,} | {x['runs']} | {x['reports_applied_per_s']:,.0f} | "
            f"{x['probe_p50_ms']} / {x['probe_p99_ms']} | {x['server_p50_ms']} / "
            f"{x['server_p99_ms']} | {_loads(x['loadavg_before'])} |"
        )
    lines += [
        "",
        "## 3. Contact import (2 % invalid rows)",
        "",
        "| rows | runs | rows/s | peak RSS MB | rejected | load before runs |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for size, x in sorted(s["import"].items()):
        lines.append(
            f"| {size:,} | {x['runs']} | {x['rows_per_s']:,.0f} | {x['peak_rss_mb']} | "
            f"{x['rejected']:,} | {_loads(x['loadavg_before'])} |"
        )
    lines += [
        "",
        "## 4. Pages (1M-recipient campaign, 10M-row ledger; server time, median)",
        "",
        "| page | url | median ms | max ms | queries | slowest query ms |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for p in s["pages"]:
        if p.get("median_ms") is None:
            lines.append(f"| {p['page']} | – | {p.get('status')} | | | |")
        else:
            lines.append(
                f"| {p['page']} | `{p['url']}` | {p['median_ms']} | {p['max_ms']} | "
                f"{p['queries']} | {p['slowest_query_ms']} |"
            )
    lines += [
        "",
        "## API contact upsert (issue #18; `POST /api/v1/contacts/upsert`, in-process)",
        "",
        "| contacts | batch | runs | created/s | updated/s | created / updated / "
        "rejected | load before runs |",
        "| ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for size, x in sorted((s.get("api_upsert") or {}).items()):
        c, u = x.get("create_counts") or {}, x.get("update_counts") or {}
        lines.append(
            f"| {size:,} | {x['batch']:,} | {x['runs']} | {x['create_per_s']:,.0f} | "
            f"{x['update_per_s']:,.0f} | {c.get('created')} / {u.get('updated')} / "
            f"{c.get('rejected')} | {_loads(x['loadavg_before'])} |"
        )
    lines += ["", "## Split tests and conversions (issue 28; `python -m bench.conversions`)", ""]
    for x in s.get("conversions") or []:
        brief = {k: v for k, v in x.items() if k not in ("bench", "ok")}
        lines.append(f"- {x['bench']}: " + ", ".join(f"{k} {v}" for k, v in brief.items()))
    lines += [
        "",
        "## Segment counts (issue #17; `segment_count(...)`, median of 3)",
        "",
        "Each figure is before → after: the compiler's OR before (kept in bench.segments) "
        "and now, interleaved in the same run. Count and count + sample: `segment_count`, "
        "`segment_preview` (jit off, 64 MB work_mem); ORM count: "
        "`Contact.objects.filter(segment_condition(...)).count()` (the wizard's audience "
        "count, server defaults); freeze read: the same WHERE's ids in id order through a "
        "server-side cursor (once).",
        "",
        "| contacts | segment | runs | contacts selected | count median ms | count + "
        "sample median ms | ORM count ms | freeze read ms | load before runs |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]

    def pair(x: dict, before: str, after: str) -> str:
        if x.get(after) is None:
            return "–"
        return f"{x[before]:,} → {x[after]:,}" if x.get(before) is not None else f"{x[after]:,}"

    for x in s.get("segments") or []:
        lines.append(
            f"| {x['size']:,} | {x['segment']} | {x['runs']} | {x['count']:,} | "
            f"{pair(x, 'before_median_ms', 'median_ms')} | "
            f"{pair(x, 'before_preview_median_ms', 'preview_median_ms')} | "
            f"{pair(x, 'before_orm_median_ms', 'orm_median_ms')} | "
            f"{pair(x, 'before_freeze_ms', 'freeze_ms')} | "
            f"{_loads(x['loadavg_before'])} |"
        )
    lines += [
        "",
        "## A 300 msg/s campaign with vs without a `message.final` subscription "
        "(issue 24 #6; target ≤ 1.1×)",
        "",
        "| layout | recipients | msg/s limit | without (s) | with (s) | with / without | "
        "events received, verified once | load before runs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for x in s.get("paced_events") or []:
        verified = "ok" if x["events_ok"] else "NOT ok"
        lines.append(
            f"| {x['layout']} | {x['size']:,} | {x['speed']} | {x['without_s']} | "
            f"{x['with_s']} | {x['ratio']:.2f}× | {x['events_received']:,} "
            f"({verified}) | {_loads(x['loadavg_before'])} |"
        )
    lines += [
        "",
        "## Launch forecast (issue 26 #5; `campaign_forecast(...)`, median of 3)",
        "",
        "| contacts | campaign | runs | median ms | µs/recipient | one recipient at a "
        "time, µs/recipient | ratio | groups | waiting | load before runs |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for x in s.get("forecast") or []:
        lines.append(
            f"| {x['size']:,} | {x['campaign']} | {x['runs']} | {x['median_ms']:,} | "
            f"{x['us_per_recipient']} | {x['naive_us_per_recipient']} | "
            f"{x['naive_over_forecast']}× | {x['groups']:,} | {x['waiting']:,} | "
            f"{_loads(x['loadavg_before'])} |"
        )
    return "\n".join(lines) + "\n"


def _loads(values: list) -> str:
    return ", ".join(f"{v[0]:.1f}" for v in values)


def journeys_markdown(rows: list[dict]) -> str:
    """Journeys (issue #27): events in, steps executed, trigger → first send."""
    if not rows:
        return ""
    lines = [
        "",
        "## Journeys (issue #27)",
        "",
        "| figure | size | measured | target | load |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        load = f"{r['loadavg_before'][0]:.1f}"
        if r["bench"] == "journey_events":
            lines.append(
                f"| events API, batches of 1,000 (stored + entered) | {r['size']:,} | "
                f"{r['events_per_s']:,}/s | ≥ 5,000/s | {load} |"
            )
        elif r["bench"] == "journey_steps":
            lines.append(
                f"| due steps executed (wait → SMS → exit), worker peak PSS | "
                f"{r['size']:,} | {r['steps_per_s']:,} steps/s, "
                f"{r['worker_peak_pss_mb']} MB | ≥ 10,000/s, < 200 MB | "
                f"{load} |"
            )
        elif r["bench"] == "journey_latency":
            q = r["latency_s"]
            lines.append(
                f"| trigger → first send at {r['rate']}/s, p50 / p99 / max s | "
                f"{r['size']:,} | {q.get('p50')} / {q.get('p99')} / {q.get('max')} | "
                f"p99 < 2 s | {load} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--runs-large", type=int, default=3, help="runs at 1M and above")
    parser.add_argument(
        "--only",
        default="fanout,import,pages,api_upsert,segments,forecast,journeys,conversions,"
        "paced_events,history",
    )
    parser.add_argument("--paced-size", type=int, default=18_000, help="paced_events recipients")
    parser.add_argument(
        "--journey-sizes",
        default="100000,1000000",
        help="contacts waiting in one journey (journeys' steps benchmark)",
    )
    parser.add_argument("--journey-events", type=int, default=50_000)
    parser.add_argument("--journey-seconds", type=int, default=30, help="latency: 100 events/s")
    parser.add_argument("--naive-size", type=int, default=10_000)
    parser.add_argument("--keep-pages", action="store_true")
    parser.add_argument("--import-sizes", default="", help="default: --sizes")
    parser.add_argument("--api-sizes", default="", help="default: --sizes")
    parser.add_argument("--segment-sizes", default="", help="default: the largest of --sizes")
    parser.add_argument(
        "--segment-reuse", action="store_true", help="segments: count on the kept database"
    )
    parser.add_argument("--name", default="bench", help="results file stem (NAME-YYYY-MM-DD)")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",") if x]
    only = set(args.only.split(","))
    started = time.time()
    records: list[dict] = []
    if "fanout" in only:
        for size in sizes:
            runs = args.runs_large if size >= 1_000_000 else args.runs
            extra = ["--naive"] if size == args.naive_size else []
            records += _run("bench.fanout", "--size", str(size), "--runs", str(runs), *extra)
    if "import" in only:
        for size in [int(x) for x in (args.import_sizes or args.sizes).split(",") if x]:
            runs = args.runs_large if size >= 1_000_000 else args.runs
            records += _run("bench.importer", "--size", str(size), "--runs", str(runs))
    if "pages" in only:
        records += _run("bench.pages", *(["--keep"] if args.keep_pages else []))
    if "api_upsert" in only:
        for size in [int(x) for x in (args.api_sizes or args.sizes).split(",") if x]:
            runs = args.runs_large if size >= 1_000_000 else args.runs
            records += _run("bench.api_upsert", "--size", str(size), "--runs", str(runs))
    if "conversions" in only:
        records += _run("bench.conversions", *(["--keep"] if args.keep_pages else []))
    if "segments" in only:
        for size in [int(x) for x in (args.segment_sizes or str(max(sizes))).split(",") if x]:
            runs = args.runs_large if size >= 1_000_000 else args.runs
            extra = ["--reuse", "--keep"] if args.segment_reuse else []
            records += _run("bench.segments", "--size", str(size), "--runs", str(runs), *extra)
    if "forecast" in only:
        for size in [int(x) for x in (args.segment_sizes or str(max(sizes))).split(",") if x]:
            runs = args.runs_large if size >= 1_000_000 else args.runs
            records += _run("bench.forecast", "--size", str(size), "--runs", str(runs))
    if "journeys" in only:
        records += _run("bench.journeys", "--part", "events", "--size", str(args.journey_events))
        for size in [int(x) for x in args.journey_sizes.split(",") if x]:
            records += _run("bench.journeys", "--part", "steps", "--size", str(size))
        records += _run("bench.journeys", "--part", "latency", "--size", str(args.journey_seconds))
    if "paced_events" in only:
        records += _run("bench.paced_events", "--size", str(args.paced_size), "--runs", "1")
    history = _run("bench.history", "--size", str(max(sizes))) if "history" in only else []
    summary = summarize(records)
    summary["history"] = history
    summary["journeys"] = [r for r in records if str(r.get("bench", "")).startswith("journey_")]
    meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": h.machine(),
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "note": (
            f"{round((time.time() - started) / 60)} min; medians of the runs shown; "
            "`load before runs` is os.getloadavg()[0] before each measurement "
            "(the machine is shared: a high figure means a contended run)."
        ),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"{args.name}-{dt.date.today().isoformat()}"
    stem.with_suffix(".json").write_text(
        json.dumps({**meta, "summary": summary, "records": records}, indent=2, default=str) + "\n"
    )
    md = markdown(meta, summary) + journeys_markdown(summary["journeys"])
    stem.with_suffix(".md").write_text(md)
    print()
    print(md)
    print(f"wrote {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
