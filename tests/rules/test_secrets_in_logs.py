"""The webhook token never reaches a log line: runserver's, gunicorn's, Django's own."""

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from core.logging import RedactSecretsFilter, redact
from tests.fixtures import worker as worker_fixtures

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-webhook-token-never-logged-42"


def _record(message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("django.server", logging.INFO, __file__, 1, message, args, None)


def test_runserver_access_lines_are_redacted(settings) -> None:
    settings.INFOBIP_WEBHOOK_TOKEN = TOKEN
    handlers = logging.getLogger("django.server").handlers
    assert handlers, "django.server logs through Herald's console handler"
    assert any(isinstance(f, RedactSecretsFilter) for h in handlers for f in h.filters), [
        (h, h.filters) for h in handlers
    ]
    record = _record('"%s" %s %s', f"POST /infobip/webhooks/{TOKEN}/sms/reports/ HTTP/1.1", 200, 2)
    RedactSecretsFilter().filter(record)
    assert TOKEN not in record.getMessage()
    assert "/infobip/webhooks/***/sms/reports/" in record.getMessage()


@pytest.mark.parametrize(
    "line",
    [
        f"Forbidden: /infobip/webhooks/{TOKEN}/clicks/",
        "Not Found: /infobip/webhooks/an-old-rotated-token/sms/inbound/",
        f'GET "https://h.example/infobip/webhooks/{TOKEN}?x=1"',
    ],
)
def test_any_token_in_a_webhook_path_is_redacted(line: str) -> None:
    cleaned = redact(line)
    assert "/infobip/webhooks/***" in cleaned
    assert TOKEN not in cleaned
    assert "an-old-rotated-token" not in cleaned


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_access_log_is_redacted(tmp_path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "HERALD_READ_DOTENV": "false",
        "DEBUG": "false",
        "SECRET_KEY": "tests-only-not-a-secret",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": worker_fixtures.test_database_url(),
        "INFOBIP_WEBHOOK_TOKEN": TOKEN,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "CELERY_BROKER_URL": "memory://",
    }
    out = tmp_path / "gunicorn.log"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}/infobip/webhooks/{TOKEN}/sms/reports/"
            deadline = time.monotonic() + 120
            while True:
                try:
                    requests.get(url, timeout=60)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        pytest.fail(out.read_text())
                    time.sleep(0.3)
            requests.post(url, data=b"{}", timeout=60)
            time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    text = out.read_text()
    assert "/infobip/webhooks/***/sms/reports/" in text, text
    assert TOKEN not in text
