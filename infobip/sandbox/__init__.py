"""A local, fast fake of Infobip's HTTP API, so Herald runs end to end with no real messages sent.

`python -m infobip.sandbox --port 9100` (or `manage.py sandbox`) serves every endpoint Herald's
client uses, as Infobip's OpenAPI documents describe them: bodies are validated against the
vendored spec (400 in the endpoint's own error envelope, listing violations), a wrong `App` key
gets 401, and accepted messages get delivery reports pushed to their report URL after a delay,
with a reproducible outcome mix. /_sandbox/ is its control API (state, truth, config, inbound,
reset, flush). It refuses to start when real Infobip credentials are configured.

Why the standard library's ThreadingHTTPServer (HTTP/1.1, keep-alive, one thread per
connection): state lives in one process's memory, so a multi-process server would need shared
storage, and an async framework would add a dependency without making the work cheaper — the
cost is per message (JSON, validation, bookkeeping), not per connection. Measured on the 2-core
machine with the load generators on the same cores (bench/sandbox_throughput.py, figures in
bench/results/sandbox-*.md): ~40,000 messages/s in requests of 1,000 one-destination messages,
~70,000/s with 1,000 destinations per message, ~28,000/s for 1,000 WhatsApp templates; at a
paced 20,000 messages/s it also pushes the reports as they fall due. A single-message request
costs it ~0.35 ms of CPU (stdlib HTTP and sockets dominate; our handler is ~25 µs), i.e.
~3,000 requests/s on a free core against the ~1,000/s Herald's per-recipient baseline sends.
What makes the batched figures possible: validation compiled to Rust (validation.py), orjson,
one lock and one schedule entry per request, outcomes decided with one hash per message, and
report bodies built only when pushed or pulled.

Modules: server (HTTP, auth, faults), api (Infobip endpoints), control (/_sandbox/), validation,
state (messages and their decided fate), reports (scheduling, shapes, pushing), inbound,
templates (demo WhatsApp templates), codes (statuses, errors, SMS parts), config, errors,
persistence (optional SQLite copy), cli (start-up and the real-credentials refusal).
"""

import ipaddress
from urllib.parse import urlsplit


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def real_credentials_reason(base_url: str, api_key: str, sandbox_key: str) -> str | None:
    """Why the configured Infobip credentials look real (so the sandbox must not run), or None.

    A base URL is fine only when it points at this machine; an API key only when it is the
    sandbox's own key and the base URL (if any) is local.
    """
    if base_url:
        host = urlsplit(base_url if "://" in base_url else f"https://{base_url}").hostname or ""
        if not _is_loopback_host(host):
            return f"INFOBIP_BASE_URL points at {host}, a real Infobip account"
    if api_key and api_key != sandbox_key:
        return "INFOBIP_API_KEY is set (a real Infobip API key)"
    return None
