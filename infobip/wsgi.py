"""Infobip's pushes answered outside Django's request stack (config/wsgi.py wraps Django with it).

A delivery-report storm is thousands of pushes a second, and Django's request handling — the
request object, eleven middleware, URL resolving, the ORM's INSERT — cost more CPU than storing
the push itself (bench/HISTORY.md, "Reports and events"). `WebhookDispatcher` answers the POSTs
to `/infobip/webhooks/<token>/<kind>/` itself, with the checks of infobip/views.py (the same
functions: allowed networks, constant-time token or Basic password, body limit, shape check),
one autocommit INSERT of the raw push and the same enqueue, and the same answers: status, JSON
body and the headers Django's middleware would add. Everything else — and any webhook request
that is not the plain case (another method, a query string, a host Django would refuse, a path
that is not printable ASCII, an SSL redirect to make) — goes to Django unchanged, so those
answers stay Django's own. runserver loads the same `config.wsgi.application`; the Django
view serves Django's test client (and any handler that bypasses config/wsgi.py).
"""

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.signals import setting_changed
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from infobip.urls import KINDS
from infobip.views import (
    STORE_ERRORS,
    BadBody,
    authenticated,
    declared_length,
    enqueue,
    parse_body,
    read_body,
    source_address,
    source_allowed,
)

logger = logging.getLogger(__name__)
request_logger = logging.getLogger("django.request")  # where Django logs 4xx/5xx answers

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# The token segment: printable ASCII without "/" (Django's `str` converter takes any non-"/";
# anything else goes to Django, which decodes and refuses it as it always did).
_PATH = re.compile(
    r"/infobip/webhooks/([\x21-\x2e\x30-\x7e]+)/("
    + "|".join(re.escape(suffix) for suffix in KINDS)
    + r")/"
)
_KIND = {suffix: kind.value for suffix, kind in KINDS.items()}
_REASONS = {
    200: "200 OK",
    400: "400 Bad Request",
    403: "403 Forbidden",
    503: "503 Service Unavailable",
}

INSERT = (
    "INSERT INTO infobip_webhookevent"
    " (kind, received_at, body, content_hash, items, source_ip, status, attempts, error)"
    " VALUES (%s, %s, %s, %s, %s, %s, 'received', 0, '') RETURNING id"
)


@lru_cache(maxsize=1)
def _headers() -> tuple[tuple[str, str], ...]:
    """The headers Django's middleware adds to a webhook answer (CSP, frame, sniff, referrer)."""
    from csp.utils import build_policy

    headers = [("Content-Type", "application/json")]
    if getattr(settings, "CONTENT_SECURITY_POLICY", None) and (policy := build_policy()):
        headers.append(("Content-Security-Policy", policy))
    if getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None) and (
        policy := build_policy(report_only=True)
    ):
        headers.append(("Content-Security-Policy-Report-Only", policy))
    headers.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if referrer := settings.SECURE_REFERRER_POLICY:
        value = referrer if isinstance(referrer, str) else ",".join(referrer)
        headers.append(("Referrer-Policy", value))
    if coop := settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", coop))
    return tuple(headers)


def _hsts() -> tuple[str, str] | None:
    if not settings.SECURE_HSTS_SECONDS:
        return None
    value = f"max-age={settings.SECURE_HSTS_SECONDS}"
    if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        value += "; includeSubDomains"
    if settings.SECURE_HSTS_PRELOAD:
        value += "; preload"
    return ("Strict-Transport-Security", value)


@lru_cache(maxsize=32)
def _host_allowed(values: tuple[tuple[str, str], ...]) -> bool:
    """Django's own ALLOWED_HOSTS check (request.get_host()) for these environ values."""
    request = HttpRequest()
    request.META = dict(values)
    try:
        request.get_host()
    except DisallowedHost:
        return False
    return True


_HOST_KEYS = ("HTTP_HOST", "HTTP_X_FORWARDED_HOST", "SERVER_NAME", "SERVER_PORT")


def _clear_caches(**_: object) -> None:
    _headers.cache_clear()
    _host_allowed.cache_clear()


setting_changed.connect(_clear_caches)


def _secure(environ: dict[str, Any]) -> bool:
    """request.is_secure() as Django works it out (the trusted proxy header, else the scheme)."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return bool(str(value).split(",")[0].strip() == secure_value)
    return environ.get("wsgi.url_scheme") == "https"


def _read(environ: dict[str, Any]) -> Callable[[int], bytes]:
    """read(n) of the body as Django reads it: never past CONTENT_LENGTH (0 when absent)."""
    stream = environ["wsgi.input"]
    remaining = max(0, declared_length(environ))

    def read(size: int) -> bytes:
        nonlocal remaining
        chunks, wanted = [], min(size, remaining)
        while wanted > 0:
            chunk = stream.read(wanted)
            if not chunk:
                break
            chunks.append(chunk)
            wanted -= len(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    return read


def fast_kind(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(token, URL suffix) when this request is a plain webhook POST this module answers."""
    if environ.get("REQUEST_METHOD") != "POST" or environ.get("QUERY_STRING"):
        return None
    match = _PATH.fullmatch(environ.get("PATH_INFO") or "")
    if match is None:
        return None
    if settings.SECURE_SSL_REDIRECT and not _secure(environ):
        return None  # Django answers the redirect (or its exemption) as configured
    host = tuple((key, str(environ[key])) for key in _HOST_KEYS if key in environ)
    if not _host_allowed(host):
        return None  # Django answers 400 and logs it to django.security, as before
    return match.group(1), match.group(2)


def store(kind: str, text: str, raw: bytes, items: int, source_ip: str | None) -> int:
    """One autocommit INSERT of the raw push; its id (committed when this returns)."""
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT,
            [kind, timezone.now(), text, hashlib.sha256(raw).hexdigest(), items, source_ip],
        )
        row = cursor.fetchone()
    return int(row[0])


def receive(environ: dict[str, Any], token: str, kind: str) -> tuple[int, str]:
    """Authenticate, check, store and enqueue one push: (HTTP status, answer text)."""
    if not source_allowed(environ) or not authenticated(environ, token):
        return 403, "forbidden"
    try:
        raw = read_body(environ, _read(environ))
        text, items = parse_body(kind, raw)
    except BadBody as exc:
        return 400, f"rejected: {exc}"
    try:
        event_id = store(kind, text, raw, items, source_address(environ))
    except STORE_ERRORS:
        logger.exception("webhook %s not stored: database unavailable", kind)
        return 503, "not stored, retry later"
    # Autocommit: runs now, after the commit, exactly as the view's on_commit hook does.
    transaction.on_commit(lambda: enqueue(event_id), robust=True)
    return 200, "stored"


class WebhookDispatcher:
    """WSGI app: plain Infobip webhook POSTs answered here, everything else by `django`."""

    def __init__(self, django: WSGIApp) -> None:
        self.django = django

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        found = fast_kind(environ)
        if found is None:
            return self.django(environ, start_response)
        token, suffix = found
        # Django's request signals: close_old_connections (CONN_MAX_AGE, health checks, a
        # connection broken by an error) runs before and after, as for any Django request.
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            status, text = receive(environ, token, _KIND[suffix])
        finally:
            signals.request_finished.send(sender=self.__class__)
        body = json.dumps({"status": text}).encode()  # byte for byte JsonResponse's answer
        headers = [*_headers(), ("Content-Length", str(len(body)))]
        if status == 503:
            headers.append(("Retry-After", "60"))
        if _secure(environ) and (hsts := _hsts()):
            headers.append(hsts)
        if status >= 400:
            # As Django's log_response does, with the token segment never written.
            level = request_logger.error if status >= 500 else request_logger.warning
            level("%s: /infobip/webhooks/***/%s/", _REASONS[status][4:], suffix)
        start_response(_REASONS[status], headers)
        return [body]
