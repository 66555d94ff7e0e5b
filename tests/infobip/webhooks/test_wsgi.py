"""The webhook fast path (infobip/wsgi.py, what gunicorn serves): the view's answers, outside
Django's stack, driven through the real WSGI application of config/wsgi.py."""

import base64
import hashlib
import io
import json
import logging
import sys
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from config.wsgi import application
from infobip.models import EventStatus, WebhookEvent
from infobip.wsgi import WebhookDispatcher
from tests.fixtures import worker as worker_fixtures
from tests.infobip.webhooks.conftest import example, path_of

# transaction=True: the fast path runs in autocommit, as in gunicorn (Django's request signals
# close and reopen connections, which a test transaction would not survive).
pytestmark = pytest.mark.django_db(transaction=True)

REPORTS = example("sms_dlr_push_v3")


def environ(
    path: str, body: bytes = b"", *, method: str = "POST", query: str = "", **extra: Any
) -> dict[str, Any]:
    """A WSGI environ as gunicorn builds it for one request from 127.0.0.1."""
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        **extra,
    }


def call(app, env: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Run one request through a WSGI app: (status code, headers, body)."""
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list, exc_info=None) -> None:
        seen["status"], seen["headers"] = status, headers

    chunks = app(env, start_response)
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return int(seen["status"].split()[0]), dict(seen["headers"]), body


def no_django(env, start_response):
    pytest.fail(f"Django answered {env['REQUEST_METHOD']} {env['PATH_INFO']}")


FAST = WebhookDispatcher(no_django)  # fails the test when a request falls through to Django


def _comparable(headers: dict[str, str]) -> dict[str, Any]:
    # CSP directives come in a hash-seeded order; everything else must be equal as it is.
    out: dict[str, Any] = {k.lower(): v for k, v in headers.items()}
    if "content-security-policy" in out:
        out["content-security-policy"] = set(out["content-security-policy"].split("; "))
    return out


def _via_django(env: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """The same request answered by Django's view (the stack the fast path stands in for)."""
    return call(application.django, env)


def _push(name: str) -> bytes:
    return json.dumps(example(name)).encode()


BASIC = "Basic " + base64.b64encode(f"infobip:{settings.INFOBIP_WEBHOOK_TOKEN}".encode()).decode()
WRONG = "Basic Zm9vOmJhcg=="
EMPTY = b'{"results": []}'
CASES = {
    "valid": dict(kind="sms/reports", body=json.dumps(REPORTS).encode()),
    "valid whatsapp": dict(kind="whatsapp/reports", body=_push("whatsapp_dlr_push")),
    "valid inbound": dict(kind="sms/inbound", body=_push("sms_inbound_push")),
    "valid click": dict(kind="clicks", body=_push("sms_click_push")),
    "wrong token": dict(kind="sms/reports", token="guess", body=b'{"results": []}'),
    "basic auth": dict(kind="sms/reports", token="-", body=EMPTY, HTTP_AUTHORIZATION=BASIC),
    "basic wrong": dict(kind="sms/reports", token="-", body=b"{}", HTTP_AUTHORIZATION=WRONG),
    "basic garbage": dict(kind="sms/reports", token="-", body=b"{}", HTTP_AUTHORIZATION="Basic *"),
    "not json": dict(kind="sms/reports", body=b"{nope"),
    "not utf-8": dict(kind="sms/reports", body=b'{"results": ["\xff"]}'),
    "raw NUL": dict(kind="sms/reports", body=b'{"results": [\x00]}'),
    "no results": dict(kind="sms/reports", body=b"{}"),
    "report without status": dict(kind="sms/reports", body=b'{"results": [{"messageId": "m"}]}'),
    "bool id": dict(kind="sms/reports", body=b'{"results": [{"messageId": true, "status": {}}]}'),
    "empty id": dict(kind="sms/reports", body=b'{"results": [{"messageId": "", "status": {}}]}'),
    "deep nesting": dict(kind="sms/reports", body=b"[" * 100_000 + b"]" * 100_000),
    "array body": dict(kind="clicks", body=b"[1, 2]"),
    "empty body": dict(kind="sms/reports", body=b""),
    "bad content length": dict(kind="sms/reports", body=b"{}", CONTENT_LENGTH="abc"),
    "negative content length": dict(kind="sms/reports", body=b"{}", CONTENT_LENGTH="-5"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_fast_path_answers_exactly_as_the_django_view(case: str) -> None:
    spec = dict(CASES[case])
    kind, body, token = spec.pop("kind"), spec.pop("body"), spec.pop("token", None)
    path = path_of(kind, token)
    fast = call(FAST, environ(path, body, **spec))
    fast_rows = list(
        WebhookEvent.objects.values("kind", "body", "content_hash", "items", "source_ip", "status")
    )
    WebhookEvent.objects.all().delete()
    django = _via_django(environ(path, body, **spec))
    django_rows = list(
        WebhookEvent.objects.values("kind", "body", "content_hash", "items", "source_ip", "status")
    )
    assert fast[0] == django[0]
    assert fast[2] == django[2]
    assert _comparable(fast[1]) == _comparable(django[1])
    assert fast_rows == django_rows
    if fast[0] == 200:
        (row,) = fast_rows
        assert row["body"].encode() == body  # byte for byte (eager Celery processed it)
        assert row["content_hash"] == hashlib.sha256(body).hexdigest()
    else:
        assert not fast_rows


def test_the_source_allow_list_and_the_proxy_header_hold_on_the_fast_path(settings) -> None:
    body = json.dumps(REPORTS).encode()
    settings.INFOBIP_WEBHOOK_ALLOWED_NETWORKS = ["infobip"]
    assert call(FAST, environ(path_of("sms/reports"), body))[0] == 403
    assert call(FAST, environ(path_of("sms/reports"), body, REMOTE_ADDR="193.105.74.17"))[0] == 200
    forged = {"HTTP_X_FORWARDED_FOR": "193.105.74.17"}
    assert call(FAST, environ(path_of("sms/reports"), body, **forged))[0] == 403  # not configured
    settings.INFOBIP_WEBHOOK_PROXY_HEADER = "X-Forwarded-For"
    spoofed = {"HTTP_X_FORWARDED_FOR": "193.105.74.17, 10.0.0.1"}  # right-most entry counts
    assert call(FAST, environ(path_of("sms/reports"), body, **spoofed))[0] == 403
    real = {"HTTP_X_FORWARDED_FOR": "10.0.0.1, 193.105.74.18"}
    assert call(FAST, environ(path_of("sms/reports"), body, **real))[0] == 200
    assert sorted(WebhookEvent.objects.values_list("source_ip", flat=True)) == [
        "193.105.74.17",
        "193.105.74.18",
    ]
    settings.INFOBIP_WEBHOOK_ALLOWED_NETWORKS = ["not-a-network"]
    assert call(FAST, environ(path_of("sms/reports"), body, **real))[0] == 403


def test_no_configured_token_closes_the_fast_path(settings) -> None:
    body = json.dumps(REPORTS).encode()
    path = path_of("sms/reports")
    settings.INFOBIP_WEBHOOK_TOKEN = ""
    assert call(FAST, environ(path, body))[0] == 403
    assert call(FAST, environ(path, body, HTTP_AUTHORIZATION="Basic OmZvbw=="))[0] == 403
    assert not WebhookEvent.objects.exists()


def test_an_oversized_body_is_400_before_it_is_read(settings) -> None:
    settings.HERALD_WEBHOOK_MAX_BYTES = 1000
    declared = environ(path_of("sms/reports"), b"{}", CONTENT_LENGTH="1000000")
    status, _, body = call(FAST, declared)
    assert status == 400
    assert b"larger than 1000 bytes" in body
    large = json.dumps({"results": [], "pad": "x" * 2000}).encode()
    assert call(FAST, environ(path_of("sms/reports"), large))[0] == 400
    assert not WebhookEvent.objects.exists()


def test_a_short_body_is_read_up_to_content_length_only() -> None:
    """Keep-alive: bytes after the declared length belong to the next request, never read."""
    body = json.dumps(REPORTS).encode()
    stream = io.BytesIO(body + b"POST /next HTTP/1.1\r\n")
    env = environ(path_of("sms/reports"), body)
    env["wsgi.input"] = stream
    assert call(FAST, env)[0] == 200
    assert stream.read() == b"POST /next HTTP/1.1\r\n"
    assert WebhookEvent.objects.get().body.encode() == body


@pytest.mark.parametrize(
    "change",
    [
        {"method": "GET"},  # 405 from require_POST
        {"method": "PUT"},
        {"query": "x=1"},
        {"query": "q=%00"},  # RejectNulMiddleware's 400
        {"HTTP_HOST": "evil.example"},  # DisallowedHost: 400
        {"path": "/infobip/webhooks/{token}/sms/reports"},  # APPEND_SLASH
        {"path": "/infobip/webhooks/{token}/sms/nothing/"},  # 404
        {"path": "/infobip/webhooks/\x00/sms/reports/"},
        {"path": "/infobip/webhooks/t\u00e9/sms/reports/"},
        {"path": "/healthz/"},
    ],
)
def test_anything_but_a_plain_webhook_post_is_django_s(change: dict[str, str]) -> None:
    calls = []

    def django(env, start_response):
        calls.append(env["PATH_INFO"])
        return application.django(env, start_response)

    change = dict(change)
    path = change.pop("path", path_of("sms/reports")).replace(
        "{token}", settings.INFOBIP_WEBHOOK_TOKEN
    )
    body = json.dumps(REPORTS).encode()
    method = change.pop("method", "POST")
    env = environ(path, body, method=method, query=change.pop("query", ""), **change)
    status, _, _ = call(WebhookDispatcher(django), env)
    assert calls == [path]
    expected = _via_django(environ(path, body, method=method, query=env["QUERY_STRING"], **change))
    assert status == expected[0]
    assert status != 500


def test_an_ssl_redirect_is_left_to_django_and_hsts_is_sent_on_https(settings) -> None:
    from infobip.wsgi import fast_kind

    plain = environ(path_of("sms/reports"), b"{}")
    assert fast_kind(plain) is not None
    settings.SECURE_SSL_REDIRECT = True
    assert fast_kind(plain) is None  # Django's SecurityMiddleware answers the redirect
    secure = environ(
        path_of("sms/reports"), json.dumps(REPORTS).encode(), **{"wsgi.url_scheme": "https"}
    )
    assert fast_kind(secure) is not None
    settings.SECURE_HSTS_SECONDS = 3600
    status, headers, _ = call(FAST, secure)
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=3600"


def _dead_port() -> int:
    """A TCP port nothing listens on (with a socket directory: a socket file that is not there)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_database_that_is_down_answers_503_then_recovers() -> None:
    """A real failure: the connection goes where no PostgreSQL answers (a port nobody serves)."""
    body = json.dumps(REPORTS).encode()
    saved = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = _dead_port()
    try:
        status, headers, answer = call(FAST, environ(path_of("sms/reports"), body))
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved
    assert (status, headers["Retry-After"]) == (503, "60")
    assert json.loads(answer) == {"status": "not stored, retry later"}
    assert not WebhookEvent.objects.exists()
    assert call(FAST, environ(path_of("sms/reports"), body))[0] == 200
    assert WebhookEvent.objects.count() == 1


def test_refusals_are_logged_like_django_s_without_the_token(caplog) -> None:
    token = settings.INFOBIP_WEBHOOK_TOKEN
    with caplog.at_level(logging.WARNING, logger="django.request"):
        call(FAST, environ(path_of("sms/reports", "a-guessed-token"), b"{}"))
        call(FAST, environ(path_of("clicks"), b"{nope"))
    messages = [r.getMessage() for r in caplog.records if r.name == "django.request"]
    assert messages == [
        "Forbidden: /infobip/webhooks/***/sms/reports/",
        "Bad Request: /infobip/webhooks/***/clicks/",
    ]
    assert all(token not in m and "a-guessed-token" not in m for m in messages)


def test_a_stored_push_wakes_the_processing_task(monkeypatch) -> None:
    from infobip import tasks

    calls: list = []
    monkeypatch.setattr(tasks.process_events, "delay", calls.append)
    assert call(FAST, environ(path_of("sms/reports"), json.dumps(REPORTS).encode()))[0] == 200
    assert calls == [[WebhookEvent.objects.get().pk]]


def test_a_broken_broker_does_not_lose_the_push(monkeypatch) -> None:
    from infobip import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.process_events, "delay", broker_down)
    assert call(FAST, environ(path_of("sms/reports"), json.dumps(REPORTS).encode()))[0] == 200
    assert WebhookEvent.objects.get().status == EventStatus.RECEIVED


def test_the_test_client_still_reaches_the_view(client: Client) -> None:
    """The Django view stays for the test client (same answers as the fast path, tested above)."""
    response = client.post(path_of("sms/reports"), data=REPORTS, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"status": "stored"}


@pytest.mark.integration
def test_gunicorn_serves_the_fast_path_over_real_http(tmp_path) -> None:
    """config/gunicorn.conf.py on PostgreSQL: pushes stored, refusals as the view's, no 500."""
    import os
    import socket
    import subprocess
    import time

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "HERALD_READ_DOTENV": "false",
        "DEBUG": "false",
        "SECRET_KEY": "tests-only-not-a-secret",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": worker_fixtures.test_database_url(),
        "INFOBIP_WEBHOOK_TOKEN": settings.INFOBIP_WEBHOOK_TOKEN,
        "CELERY_BROKER_URL": "memory://",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
    }
    log = tmp_path / "gunicorn.log"
    root = settings.BASE_DIR
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    requests.get(f"{base}/healthz/", timeout=30)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        pytest.fail(log.read_text())
                    time.sleep(0.3)
            url = base + path_of("sms/reports")
            body = json.dumps(REPORTS).encode()
            ok = requests.post(url, data=body, timeout=30)
            assert (ok.status_code, ok.json()) == (200, {"status": "stored"})
            assert ok.headers["X-Frame-Options"] == "DENY"
            chunked = requests.post(url, data=iter([body]), timeout=30)  # no Content-Length
            assert chunked.status_code == 400  # read as Django reads it: an empty body
            wrong = requests.post(base + path_of("sms/reports", "guess"), data=body, timeout=30)
            assert wrong.status_code == 403
            assert requests.get(url, timeout=30).status_code == 405
            for hostile in (b"\x00", b"{" * 50_000, b'{"results": [{"messageId": {}}]}'):
                assert requests.post(url, data=hostile, timeout=30).status_code == 400
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    (event,) = WebhookEvent.objects.all()
    assert event.body.encode() == body
    assert event.source_ip == "127.0.0.1"
    text = log.read_text()
    assert settings.INFOBIP_WEBHOOK_TOKEN not in text
    assert " 500 " not in text, text
    assert "Traceback" not in text, text


def test_push_bodies_are_compressed_with_lz4_when_the_server_has_it() -> None:
    """Migration 0002: pglz was ~0.6 ms of PostgreSQL CPU per 50 KB push, lz4 a fraction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        (has_lz4,) = cursor.fetchone()
        cursor.execute(
            "SELECT attcompression FROM pg_attribute"
            " WHERE attrelid = 'infobip_webhookevent'::regclass AND attname = 'body'"
        )
        (method,) = cursor.fetchone()
    assert method == ("l" if has_lz4 else "")
