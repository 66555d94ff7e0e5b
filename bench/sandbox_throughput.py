"""How many messages per second the Infobip sandbox accepts, so it never limits a benchmark.

`python -m bench.sandbox_throughput [--duration 8] [--clients 3]` starts the sandbox on a free
loopback port and has several client processes (keep-alive sessions) POST bodies for a fixed
time, per scenario:

- sms_1000_messages: /sms/3/messages with 1,000 messages of one destination each, each with its
  own text, messageId and callbackData (Herald's per-recipient rendering);
- sms_1000_destinations: one message with 1,000 destinations (same text for all);
- whatsapp_1000_templates: /whatsapp/1/message/template with 1,000 messages;
- sms_single_requests: one message per request (the naive per-recipient baseline's load);
- sms_1000_messages_with_pushes: as the first, with every message carrying a report URL to a
  local sink and reports due after 0.2 s, so pushing runs at the same time.

Writes bench/results/sandbox-YYYY-MM-DD.json and .md (figures, the sandbox's CPU per 1,000
messages and its memory). Loopback only; every loop is bounded by `--duration`.
"""

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import select
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import requests

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"
TICKS = os.sysconf("SC_CLK_TCK")


def sms_messages(prefix: str, n: int, url: str | None) -> bytes:
    messages = []
    for i in range(n):
        message: dict[str, Any] = {
            "sender": "Herald",
            "destinations": [{"to": f"4479{i:08d}", "messageId": f"{prefix}-{i}"}],
            "content": {"text": f"Hi Contact {i}, our spring offers start today: 20% off for you."},
            "webhooks": {"callbackData": f"herald:campaign=12;recipient={prefix}-{i}"},
        }
        if url:
            message["webhooks"]["delivery"] = {"url": url}
        messages.append(message)
    return orjson.dumps({"messages": messages, "options": {"schedule": {"bulkId": prefix}}})


def sms_destinations(prefix: str, n: int, url: str | None) -> bytes:
    destinations = [{"to": f"4479{i:08d}", "messageId": f"{prefix}-{i}"} for i in range(n)]
    message = {
        "sender": "Herald",
        "destinations": destinations,
        "content": {"text": "Our spring offers start today: 20% off for everyone."},
        "webhooks": {"callbackData": "herald:campaign=12"},
    }
    return orjson.dumps({"messages": [message]})


def whatsapp_templates(prefix: str, n: int, url: str | None) -> bytes:
    messages = [
        {
            "from": "447860099299",
            "to": f"4479{i:08d}",
            "messageId": f"{prefix}-{i}",
            "content": {
                "templateName": "order_update",
                "language": "en",
                "templateData": {"body": {"placeholders": [f"A-{i}", "Friday"]}},
            },
            "callbackData": "herald:campaign=12",
        }
        for i in range(n)
    ]
    return orjson.dumps({"messages": messages, "bulkId": prefix})


SCENARIOS = {
    "sms_1000_messages": ("/sms/3/messages", sms_messages, 1000, False),
    "sms_1000_destinations": ("/sms/3/messages", sms_destinations, 1000, False),
    "whatsapp_1000_templates": ("/whatsapp/1/message/template", whatsapp_templates, 1000, False),
    "sms_single_requests": ("/sms/3/messages", sms_messages, 1, False),
    "sms_1000_messages_with_pushes": ("/sms/3/messages", sms_messages, 1000, True),
    "sms_20k_per_s_with_pushes": ("/sms/3/messages", sms_messages, 1000, True),
}
# Scenarios whose clients pace themselves to a total rate (messages/s) instead of going flat out.
PACED = {"sms_20k_per_s_with_pushes": 20_000}


def client(args: tuple[str, str, int, float, int, int, str | None]) -> dict[str, int]:
    """One client process: POST bodies back to back until the deadline."""
    base, scenario, worker, deadline, clients, threads, report_url = args
    path, make, size, _ = SCENARIOS[scenario]
    totals = {"requests": 0, "messages": 0, "errors": 0}
    lock = threading.Lock()

    def loop(thread: int) -> None:
        session = requests.Session()
        headers = {"Authorization": f"App {KEY}", "Content-Type": "application/json"}
        n = 0
        interval = size * clients * threads / PACED[scenario] if scenario in PACED else 0
        start = time.time()
        while time.time() < deadline:
            if interval:
                time.sleep(max(0.0, start + n * interval - time.time()))
            body = make(f"{scenario[:3]}{worker}t{thread}r{n}", size, report_url)
            n += 1
            response = session.post(base + path, data=body, headers=headers, timeout=60)
            with lock:
                totals["requests"] += 1
                if response.status_code == 200:
                    totals["messages"] += size
                else:
                    totals["errors"] += 1

    workers = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return totals


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _serve_sink(port_queue) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def start_sandbox() -> tuple[subprocess.Popen, str]:
    env = {
        **os.environ,
        "HERALD_READ_DOTENV": "false",
        "DEBUG": "true",
        "INFOBIP_BASE_URL": "",
        "INFOBIP_API_KEY": "",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infobip.sandbox",
            "--port",
            "0",
            "--api-key",
            KEY,
            "--push-delay",
            "0.2",
            "--seen-rate",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
    )
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline().decode() if ready else ""
    if "http://" not in line:
        proc.kill()
        raise SystemExit(f"sandbox did not start: {line!r}")
    return proc, "http://" + line.split("http://", 1)[1].split("/", 1)[0]


def run_scenario(
    base: str,
    pid: int,
    name: str,
    duration: float,
    clients: int,
    threads: int,
    sink_url: str | None,
) -> dict[str, Any]:
    control = requests.Session()
    control.headers["Authorization"] = f"App {KEY}"
    control.post(base + "/_sandbox/reset", timeout=30).raise_for_status()
    report_url = sink_url if SCENARIOS[name][3] else None
    cpu0, t0 = _cpu_seconds(pid), time.time()
    deadline = t0 + duration
    with multiprocessing.Pool(clients) as pool:
        parts = pool.map(
            client,
            [(base, name, w, deadline, clients, threads, report_url) for w in range(clients)],
        )
    elapsed = time.time() - t0
    cpu = _cpu_seconds(pid) - cpu0
    state = control.get(base + "/_sandbox/state", timeout=30).json()
    drain = None
    if report_url:  # how long the reports still pending take to go out once sending stops
        t1 = time.time()
        control.post(base + "/_sandbox/flush", json={"timeout": 60}, timeout=90)
        drain = time.time() - t1
        after = control.get(base + "/_sandbox/state", timeout=30).json()["reports"]
    totals = {k: sum(p[k] for p in parts) for k in ("requests", "messages", "errors")}
    result = {
        "scenario": name,
        "messages_per_request": SCENARIOS[name][2],
        "seconds": round(elapsed, 2),
        "requests": totals["requests"],
        "errors": totals["errors"],
        "messages": totals["messages"],
        "accepted_by_sandbox": state["accepted"]["total"],
        "messages_per_second": round(totals["messages"] / elapsed),
        "requests_per_second": round(totals["requests"] / elapsed, 1),
        "sandbox_cpu_seconds": round(cpu, 2),
        "sandbox_cpu_ms_per_1000_messages": round(cpu * 1e6 / max(totals["messages"], 1), 1),
        "sandbox_rss_mb": round(_rss_mb(pid), 1),
    }
    if report_url:
        result["reports_pushed"] = state["reports"]["pushed"]
        result["reports_pushed_per_second"] = round(state["reports"]["pushed"] / elapsed)
        result["reports_pending_at_end"] = state["reports"]["pending"]
        result["drain_seconds"] = round(drain, 2)
        result["push_failures"] = after["pushFailures"]
        result["reports_abandoned"] = after["abandoned"]
        result["reports_pushed_total"] = after["pushed"]
    return result


def write_results(results: list[dict[str, Any]], meta: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"sandbox-{dt.date.today().isoformat()}"
    stem.with_suffix(".json").write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")
    lines = [
        f"# Infobip sandbox throughput — {meta['date']}",
        "",
        f"{meta['machine']}; {meta['clients']} client processes × {meta['threads']} threads "
        f"(keep-alive) on loopback, {meta['duration']} s per scenario; "
        "`python -m bench.sandbox_throughput`.",
        "",
        "| scenario | msgs/request | messages/s | requests/s | sandbox CPU ms / 1,000 msgs | "
        "RSS MB | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['scenario']} | {r['messages_per_request']} | {r['messages_per_second']:,} | "
            f"{r['requests_per_second']:,} | {r['sandbox_cpu_ms_per_1000_messages']} | "
            f"{r['sandbox_rss_mb']} | {r['errors']} |"
        )
    pushed = [r for r in results if "reports_pushed" in r]
    for r in pushed:
        lines += [
            "",
            f"{r['scenario']}: {r['reports_pushed']:,} reports pushed "
            f"({r['reports_pushed_per_second']:,}/s, batches of 100) while accepting; "
            f"the {r['reports_pending_at_end']:,} still pending when sending stopped "
            f"were all pushed {r['drain_seconds']} s later "
            f"({r['push_failures']} failed pushes).",
        ]
    lines += ["", "Target: at least 20,000 messages/s in batched requests (issue 3).", ""]
    stem.with_suffix(".md").write_text("\n".join(lines))
    return stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="threads per client process")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    proc, base = start_sandbox()
    queue: multiprocessing.Queue = multiprocessing.Queue()
    sink = multiprocessing.Process(target=_serve_sink, args=(queue,), daemon=True)
    sink.start()
    sink_url = f"http://127.0.0.1:{queue.get(timeout=30)}/reports"
    results = []
    try:
        for name in args.scenario or list(SCENARIOS):
            result = run_scenario(
                base, proc.pid, name, args.duration, args.clients, args.threads, sink_url
            )
            print(json.dumps(result), flush=True)
            results.append(result)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        sink.terminate()
    meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        "clients": args.clients,
        "threads": args.threads,
        "duration": args.duration,
    }
    stem = write_results(results, meta, args.out)
    print(f"wrote {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
