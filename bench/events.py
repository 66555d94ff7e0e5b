"""Outbound events under the report storm (issue 18): a local receiver and its figures.

`python -m bench.fanout --size N --runs R --events` adds, to each run, a second report pass
with a `message.final` subscription to a receiver in this process: the same fan-out, then the
same storm (batches of 100, each pushed twice), timed the same way. It reports ingestion with
vs without the subscription (the ratio of the two passes of one run) and the time until the
receiver holds all N events (distinct `webhook-id`s whose Standard Webhooks signature verifies
with the `standardwebhooks` library), counted from the start of the storm.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    """A threaded HTTP server that verifies every POST's signature and counts distinct ids."""

    def __init__(self, secret: str = "", delay: float = 0.0, status: int = 200) -> None:
        self.secret, self.delay, self.status = secret, delay, status
        self.ids: set[str] = set()
        self.message_ids: set[str] = set()
        self.posts = self.bad_signatures = 0
        self.last_at = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would allow
            # The answer's head and body are two writes: without this, Nagle holds the second
            # for the client's delayed ACK (40 ms a request on Linux).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.handle(dict(self.headers.items()), body)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, headers: dict[str, str], body: bytes) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            payload = Webhook(self.secret).verify(body, lowered) if self.secret else None
        except WebhookVerificationError:
            payload = None
        with self.lock:
            self.posts += 1
            if payload is None and self.secret:
                self.bad_signatures += 1
                return
            self.ids.add(lowered.get("webhook-id", ""))
            data = (payload or json.loads(body)).get("data") or {}
            self.message_ids.add(str(data.get("messageId")))
            self.last_at = time.perf_counter()

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.ids) >= count:
                    return True
            time.sleep(0.05)
        return False


def subscribe(url: str) -> tuple[int, str]:
    """A `message.final` subscription to `url` with a generated secret; (its id, its secret)."""
    from api.models import EventSubscription
    from api.services import new_secret

    subscription = EventSubscription.objects.create(
        url=url, events=["message.final"], secret=new_secret()
    )
    return subscription.pk, subscription.secret
