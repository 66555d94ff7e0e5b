"""The floor: the engine's request bodies POSTed from one process plus a COPY of the same rows.

No Django, no Celery: `python -m bench.floor --db URL --sandbox URL --key K --size N` prints one
JSON line. Bodies come from infobip.bodies.sms_request_body (1,000 messages per request, the text
rendered per recipient as the engine does); each answer is parsed and its rows are COPYed, in
their final `accepted` state, into a copy of the ledger table with the ledger's indexes.
"""

import argparse
import json
import resource
import sys
import time
import uuid
from datetime import UTC, datetime

import psycopg
import requests

from infobip.bodies import sms_request_body
from infobip.types import SmsMessage

COLUMNS = (
    "campaign_id",
    "contact_id",
    "phone",
    "channel",
    "attempt",
    "message_id",
    "callback_data",
    "bulk_id",
    "text",
    "parts",
    "encoding",
    "state",
    "reason",
    "status_group",
    "status_id",
    "status_name",
    "error_group",
    "error_name",
    "currency",
    "created_at",
    "claimed_at",
    "accepted_at",
)
BATCH = 1000


def run(db: str, sandbox: str, key: str, size: int, notify_url: str) -> dict:
    """Send `size` recipients in batches and COPY each batch's rows; returns the timings."""
    session = requests.Session()
    headers = {"Authorization": f"App {key}", "Content-Type": "application/json"}
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_floor_message")
        conn.execute("CREATE TABLE bench_floor_message (LIKE campaigns_message INCLUDING ALL)")
        start = time.perf_counter()
        for first in range(1, size + 1, BATCH):
            ids = range(first, min(first + BATCH, size + 1))
            messages = [
                SmsMessage(
                    to=f"4479{i:08d}",
                    text=f"Hi Ann{i}, our spring offers start today: 20% off for you.",
                    message_id=str(uuid.uuid4()),
                    sender="Herald",
                    callback_data="herald:campaign=1",
                    notify_url=notify_url,
                )
                for i in ids
            ]
            body = sms_request_body(messages, bulk_id=f"floor-{first}")
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            response = session.post(
                sandbox + "/sms/3/messages", data=data, headers=headers, timeout=60
            )
            response.raise_for_status()
            answers = {m["messageId"]: m for m in response.json()["messages"]}
            now = datetime.now(UTC)
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY bench_floor_message ({', '.join(COLUMNS)}) FROM STDIN") as copy,
            ):
                for i, m in zip(ids, messages, strict=True):
                    status = answers[m.message_id]["status"]
                    copy.write_row(
                        (
                            1,
                            i,
                            "+" + m.to,
                            "sms",
                            1,
                            m.message_id,
                            m.callback_data,
                            f"floor-{first}",
                            m.text,
                            1,
                            "GSM-7",
                            "accepted",
                            "",
                            status["groupName"],
                            status["id"],
                            status["name"],
                            "",
                            "",
                            "",
                            now,
                            now,
                            now,
                        )
                    )
        elapsed = time.perf_counter() - start
        count = conn.execute("SELECT count(*) FROM bench_floor_message").fetchone()[0]
        conn.execute("DROP TABLE bench_floor_message")
    return {
        "recipients": size,
        "rows": count,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(size / elapsed),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    for name in ("--db", "--sandbox", "--key", "--notify-url"):
        parser.add_argument(name, required=True)
    parser.add_argument("--size", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps(run(args.db, args.sandbox, args.key, args.size, args.notify_url)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
