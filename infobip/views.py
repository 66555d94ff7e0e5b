"""Infobip → Herald webhooks: authenticate → check → store raw → 200; processing is async.

- Authentication: the secret path token (constant-time compare), or HTTP Basic with the token
  as password (then the path segment may be anything, e.g. `-`). Optionally the source address
  must be in INFOBIP_WEBHOOK_ALLOWED_NETWORKS. Failures answer 403 and store nothing.
- A body that is too large, not JSON, or not the shape Infobip pushes answers 400, stores nothing.
- A valid push is stored (one WebhookEvent row per push) and answered 200 only after the commit;
  if the database cannot store it the answer is 503, so Infobip retries — never a 200 for
  something not stored. Enqueueing the processing is best effort: the backlog beat picks up
  events whose task was lost.
"""

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Callable, Mapping
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError, InterfaceError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from infobip.models import EventKind, WebhookEvent
from infobip.wakeup import wakeup_claim
from infobip.webhooks import ShapeError, check_shape, click_items, results_of

logger = logging.getLogger(__name__)

# Infobip's published source ranges for pushes (docs/INFOBIP.md §14, re-check: they change).
INFOBIP_NETWORKS = (
    "193.105.74.0/24",
    "62.140.31.0/24",
    "83.166.64.0/19",
    "202.22.160.0/20",
    "81.23.248.0/21",
    "185.255.8.0/22",
    "208.93.48.0/22",
    "89.164.98.0/24",
    "149.5.186.0/24",
    "171.244.0.32/27",
    "203.223.163.32/28",
    "203.223.170.88/29",
    "119.30.69.0/28",
    "103.23.95.200/29",
    "13.87.78.119/32",
    "20.216.25.182/32",
    "20.173.68.171/32",
    "172.195.40.23/32",
    "34.166.0.168/32",
    "34.166.49.86/32",
    "20.233.44.67/32",
    "66.203.199.128/27",
    "20.108.54.3/32",
)


# What storing a push can raise when the database is unreachable or goes away mid-request
# (InterfaceError: a connection closed under us): answered 503, so Infobip retries.
STORE_ERRORS = (DatabaseError, InterfaceError)


class BadBody(ValueError):
    """The body cannot be accepted (too large, not UTF-8 JSON, wrong shape)."""


@lru_cache(maxsize=4)
def allowed_networks(values: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    """The networks of the allow-list setting ("infobip" expands to Infobip's ranges)."""
    networks = []
    for value in values:
        for item in INFOBIP_NETWORKS if value.strip().lower() == "infobip" else (value,):
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
    return tuple(networks)


def meta_key(header: str) -> str:
    """The WSGI environ / `request.META` key of an HTTP header name (as Django maps them)."""
    name = header.strip().upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"


def client_address(meta: Mapping[str, Any]) -> str:
    """The caller's address: REMOTE_ADDR, or the right-most entry of the proxy header if set."""
    header = settings.INFOBIP_WEBHOOK_PROXY_HEADER
    if header:
        value = meta.get(meta_key(header)) or ""
        return str(value).split(",")[-1].strip()
    return str(meta.get("REMOTE_ADDR") or "")


def _parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None


def source_address(meta: Mapping[str, Any]) -> str | None:
    """The caller's address as stored with the event (None when it is not an address)."""
    address = _parse_address(client_address(meta))
    return str(address) if address else None


def source_allowed(meta: Mapping[str, Any]) -> bool:
    """True when no allow-list is set or the caller's address (from `meta`) is inside it."""
    values = tuple(v for v in settings.INFOBIP_WEBHOOK_ALLOWED_NETWORKS if v.strip())
    if not values:
        return True
    address = _parse_address(client_address(meta))
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    try:
        networks = allowed_networks(values)
    except ValueError:
        # A typo in the setting must close the door, not open it (and not answer 500).
        logger.error("INFOBIP_WEBHOOK_ALLOWED_NETWORKS holds an invalid network: %s", values)
        return False
    return any(address in network for network in networks)


def authenticated(meta: Mapping[str, Any], token: str) -> bool:
    """The path token or the Basic password (from `meta`) equals INFOBIP_WEBHOOK_TOKEN."""
    secret = settings.INFOBIP_WEBHOOK_TOKEN.encode()
    if not secret:
        return False  # no token configured: webhooks are off, never open
    if hmac.compare_digest(token.encode(), secret):
        return True
    # Constant-time compares; the Basic header is read only when the path token is wrong.
    scheme, _, value = str(meta.get("HTTP_AUTHORIZATION") or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    _, colon, password = decoded.partition(b":")
    return bool(colon) and hmac.compare_digest(password, secret)


def declared_length(meta: Mapping[str, Any]) -> int:
    """CONTENT_LENGTH as Django reads it (0 when missing or not a number)."""
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except (ValueError, TypeError):
        return 0


def read_body(meta: Mapping[str, Any], read: Callable[[int], bytes]) -> bytes:
    """The body, at most HERALD_WEBHOOK_MAX_BYTES (checked before and while reading)."""
    limit = settings.HERALD_WEBHOOK_MAX_BYTES
    if declared_length(meta) > limit:
        raise BadBody(f"body larger than {limit} bytes")
    data = read(limit + 1)
    if len(data) > limit:
        raise BadBody(f"body larger than {limit} bytes")
    return data


def parse_body(kind: str, raw: bytes) -> tuple[str, int]:
    """(the body as text, its number of items) when `raw` is an acceptable push of `kind`."""
    try:
        text = raw.decode("utf-8")
        # orjson is strict RFC 8259 (no NaN/Infinity, valid UTF-8) and ~5x faster than json.
        data = orjson.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadBody("the body is not UTF-8 JSON") from exc
    try:
        check_shape(kind, data)
    except ShapeError as exc:
        raise BadBody(str(exc)) from exc
    items = click_items(data) if kind == EventKind.CLICKS else results_of(data)
    return text, len(items) if items is not None else 1


def enqueue(event_id: int) -> None:
    """Wake the processing task for a stored event (best effort: the backlog beat catches up)."""
    from infobip.tasks import process_events

    if not wakeup_claim():
        return  # a processing task is on its way and will read this event
    try:
        process_events.delay([event_id])
    except Exception:  # the event is stored: the backlog beat will process it
        logger.exception("could not enqueue processing of webhook event %s", event_id)


def _answer(status: int, text: str) -> JsonResponse:
    return JsonResponse({"status": text}, status=status)


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    """Receive one Infobip push of `kind`: authenticate, check, store raw, answer 200."""
    # infobip/wsgi.py answers the same pushes outside Django's stack (gunicorn and runserver load
    # config.wsgi); this view serves the test client. Both use the checks above.
    meta = request.META
    if not source_allowed(meta) or not authenticated(meta, token):
        return _answer(403, "forbidden")
    try:
        raw = read_body(meta, request.read)
        text, items = parse_body(kind, raw)
    except BadBody as exc:
        return _answer(400, f"rejected: {exc}")
    address = source_address(meta)
    try:
        # One INSERT in autocommit: committed when it returns (no BEGIN/COMMIT round trips
        # around a single statement); the enqueue runs after it, as on_commit always did.
        event = WebhookEvent.objects.create(
            kind=kind,
            body=text,
            content_hash=hashlib.sha256(raw).hexdigest(),
            items=items,
            source_ip=address,
        )
    except STORE_ERRORS:
        logger.exception("webhook %s not stored: database unavailable", kind)
        response = _answer(503, "not stored, retry later")
        response["Retry-After"] = "60"
        return response
    transaction.on_commit(lambda: enqueue(event.pk), robust=True)
    return _answer(200, "stored")
