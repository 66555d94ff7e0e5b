"""Events never slow sending (issue 24 #6): a campaign at a 300 msg/s speed limit, with and
without a `message.final` subscription, side by side.

`python -m bench.paced_events [--size 18000] [--speed 300] [--runs 1] [--layouts queues,single]`
prints one JSON line per run. Each run: a fresh ledger, the campaign launched at the speed
limit, the sandbox pushing every report back within a second (so ingestion, and with the
subscription event delivery, run while it sends), beat running; the figure is the time from
launch until every recipient was handed to the sandbox, as msg/s, and the ratio of the
subscribed run to the unsubscribed one. With the subscription, a receiver in this process
verifies each event's Standard Webhooks signature (the `standardwebhooks` library) and counts
distinct `webhook-id`s and messageIds: every event delivered once, and verified.

Layouts: `queues` is production's (deploy/: a worker per queue, `-c 2` each); `single` is one
worker taking every queue (`make run`, and Herald before the queues).
"""

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from bench import harness as h
from bench.data import make_audience, reset_ledger
from bench.events import Receiver, subscribe

LAYOUTS = {
    "queues": [
        ("sending", "sending"),
        ("receiving", "receiving"),
        ("events", "events"),
        ("housekeeping", "housekeeping"),
    ],
    "single": [("all", "")],
}
# A finished event-delivery task, as a worker at -l info logs it.
EVENT_TASK_RAN = re.compile(r"Task api\.tasks\.subscription_deliver\[[^\]]+\] succeeded")
KNOBS = {
    "HERALD_SWEEP_INTERVAL": 5,
    "WHATSAPP_TEMPLATE_SYNC_INTERVAL": 0,
    "HERALD_EVENTS_ALLOW_PRIVATE": "true",
}  # the receiver is on loopback


def _accepted(sandbox: h.Sandbox) -> int:
    return int(sandbox.state()["accepted"]["total"])


def run_once(
    db: str,
    list_id: int,
    size: int,
    speed: int,
    layout: str,
    subscribed: bool,
    env: dict,
    sandbox: h.Sandbox,
    logs: Path,
) -> dict:
    """One campaign at `speed` msg/s; how long until every recipient was handed over."""
    from django.db import connection

    from campaigns.models import Campaign
    from campaigns.services import campaign_create, campaign_launch
    from contacts.models import ContactList
    from core.rules import OPERATOR

    connection.close()
    reset_ledger(db)
    h.pg("TRUNCATE api_eventsubscription, api_eventdelivery, api_deliveryattempt CASCADE", db)
    h.redis_flush(env["CELERY_BROKER_URL"])
    sandbox.reset()
    sandbox.configure(push_delay=0.5, push_jitter=0.5)
    receiver = Receiver().start()
    if subscribed:
        _, receiver.secret = subscribe(receiver.url)
    stamp = int(time.time())
    # At -l info each worker logs every task it ran: the event tasks are counted from the logs.
    workers = [
        h.worker(
            env,
            logs / f"worker-{name}-{stamp}.log",
            name=f"{name}-{stamp}@%h",
            queues=queues,
            loglevel="info",
        )
        for name, queues in LAYOUTS[layout]
    ]
    beat_args = [
        str(h.VENV_BIN / "celery"),
        "-A",
        "config",
        "beat",
        "-l",
        "warning",
        "-s",
        str(logs / "beat-schedule"),
    ]
    beat = h.Process("beat", beat_args, env, logs / "beat.log").start()
    load = h.loadavg()
    try:
        campaign = campaign_create(
            name=f"paced {layout} {subscribed}",
            channel="sms",
            lists=[ContactList.objects.get(pk=list_id)],
            text=h.TEXT,
            speed_limit=speed,
            speed_unit="second",
        )
        start = time.perf_counter()
        campaign_launch(campaign=campaign, actor=OPERATOR)
        deadline = time.monotonic() + size / speed * 20 + 120
        while _accepted(sandbox) < size and time.monotonic() < deadline:
            time.sleep(0.1)
        seconds = time.perf_counter() - start
        handed = _accepted(sandbox)
        events_ok = None
        if subscribed:
            receiver.wait_for(size, timeout=max(120, size / 50))
            events_ok = (
                len(receiver.ids) == size
                and len(receiver.message_ids) == size
                and receiver.bad_signatures == 0
            )
        c = Campaign.objects.get(pk=campaign.pk)
    finally:
        beat.stop()
        for worker in workers:
            worker.stop()
        receiver.stop()
    event_tasks = sum(
        len(
            EVENT_TASK_RAN.findall(
                (logs / f"worker-{name}-{stamp}.log").read_text("utf-8", "replace")
            )
        )
        for name, _ in LAYOUTS[layout]
    )
    return {
        "bench": "paced_events",
        "size": size,
        "speed": speed,
        "layout": layout,
        "subscribed": subscribed,
        "seconds": round(seconds, 2),
        "msg_per_s": round(handed / seconds, 1),
        "handed": handed,
        "ideal_seconds": round(size / speed, 1),
        "events_received": len(receiver.ids),
        "event_posts": receiver.posts,
        "messages_in_events": len(receiver.message_ids),
        "bad_signatures": receiver.bad_signatures,
        "events_ok": events_ok,
        "delivered": c.count_delivered,
        "event_tasks": event_tasks,
        "loadavg_before": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=18_000)
    parser.add_argument("--speed", type=int, default=300)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--layouts", default="queues,single")
    args = parser.parse_args(argv)
    h.stop_on_sigterm()
    logs = Path(tempfile.mkdtemp(prefix="herald-paced-"))
    db = "herald_bench_paced"
    url = h.create_db(db)
    list_id = make_audience(db, args.size)
    broker = h.broker_url(12)
    sandbox = h.Sandbox(logs / "sandbox.log", ["--push-delay", "0.5"])
    port = h.free_port()
    web_url = f"http://127.0.0.1:{port}"
    extra = {
        "INFOBIP_SANDBOX_URL": sandbox.url,
        "PUBLIC_BASE_URL": web_url,
        "HERALD_CACHE_URL": broker.rsplit("/", 1)[0] + "/11",
        **KNOBS,
    }
    env = h.django_env(url, broker, **extra)
    h.setup_django(url, broker, **extra)
    web = h.gunicorn(env, port, logs / "web.log", logs / "access.log")
    try:
        for run in range(args.runs):
            for layout in args.layouts.split(","):
                pair = {}
                # Alternated order from run to run, so a drift in the machine's load does not
                # always favour the same side.
                order = (False, True) if run % 2 == 0 else (True, False)
                for subscribed in order:
                    record = run_once(
                        db, list_id, args.size, args.speed, layout, subscribed, env, sandbox, logs
                    )
                    record["run"] = run
                    pair[subscribed] = record
                    print(json.dumps(record), flush=True)
                ratio = pair[True]["seconds"] / pair[False]["seconds"]
                print(
                    json.dumps(
                        {
                            "bench": "paced_events_ratio",
                            "size": args.size,
                            "layout": layout,
                            "run": run,
                            "ratio": round(ratio, 3),
                            "events_ok": pair[True]["events_ok"],
                        }
                    ),
                    flush=True,
                )
    finally:
        web.stop()
        sandbox.stop()
        from django.db import connections

        connections.close_all()
        h.drop_db(db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
