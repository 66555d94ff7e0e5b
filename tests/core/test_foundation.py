"""Foundation behaviour: settings from the environment, demo admin, redaction, health."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from core import embedded_pg
from core.logging import RedactSecretsFilter, mask, redact

ROOT = Path(__file__).resolve().parents[2]


def _django_shell(code: str, **env: str) -> str:
    full_env = {**os.environ, "HERALD_READ_DOTENV": "false", **env}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_database_url_other_than_postgresql_is_refused_with_the_reason() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "HERALD_READ_DOTENV": "false", "DATABASE_URL": "sqlite:///x"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "DATABASE_URL must be a PostgreSQL URL" in result.stderr


def test_database_and_broker_urls_switch_engines_without_code_change() -> None:
    out = _django_shell(
        "from django.conf import settings as s\n"
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], "
        "s.CELERY_BROKER_URL)",
        DATABASE_URL="postgres://u:p@127.0.0.1:5999/herald_x",
        CELERY_BROKER_URL="redis://127.0.0.1:6999/3",
    )
    assert out.split() == ["django.db.backends.postgresql", "herald_x", "redis://127.0.0.1:6999/3"]


def test_the_defaults_are_the_embedded_postgresql_the_file_broker_and_the_sandbox() -> None:
    unset = {"DATABASE_URL", "CELERY_BROKER_URL", "HERALD_EMBEDDED_PG"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings';"
            "django.setup();"
            "from django.conf import settings as s; d = s.DATABASES['default'];"
            "print(d['ENGINE'], d['HOST'], d['NAME'], s.CELERY_BROKER_URL, s.INFOBIP_SANDBOX)",
        ],
        cwd=ROOT,
        env={**env, "HERALD_READ_DOTENV": "false"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # make run's server: its socket in var/pg (the unit tests' is var/pgtest).
    socket_dir = str(embedded_pg.instance_dir(ROOT / "var", "pg"))
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        socket_dir,
        "herald",
        "filesystem://",
        "True",
    ]


def test_production_without_secret_key_refuses_to_start() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "DEBUG": "false", "HERALD_READ_DOTENV": "false"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.django_db
def test_demo_admin_created_once_with_random_password(capsys) -> None:
    call_command("ensure_demo_admin")
    first = capsys.readouterr().out
    assert "username=admin password=" in first
    password = first.split("password=", 1)[1].split()[0]
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser
    assert user.check_password(password)
    assert len(password) >= 12

    call_command("ensure_demo_admin")
    assert "nothing created" in capsys.readouterr().out
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
def test_demo_admin_passwords_differ_between_machines(capsys) -> None:
    passwords = set()
    for _ in range(2):
        get_user_model().objects.all().delete()
        call_command("ensure_demo_admin")
        passwords.add(capsys.readouterr().out.split("password=", 1)[1].split()[0])
    assert len(passwords) == 2


def test_redaction_masks_keys_and_configured_secrets(settings) -> None:
    settings.INFOBIP_API_KEY = "0123456789abcdef-secret-key"
    line = f"POST /sms/3/messages Authorization: App {settings.INFOBIP_API_KEY} failed"
    cleaned = redact(line)
    assert settings.INFOBIP_API_KEY not in cleaned
    assert "App ***" in cleaned
    assert redact("api_key=abc123xyz other") == "api_key= *** other"
    assert mask("0123456789abcdef") == "***cdef"
    assert mask("short") == "***"


def test_log_filter_rewrites_records(settings) -> None:
    settings.INFOBIP_API_KEY = "zzzz-very-secret-key-1234"
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "key is %s", ("zzzz-very-secret-key-1234",), None
    )
    assert RedactSecretsFilter().filter(record)
    assert "very-secret" not in record.getMessage()


@pytest.mark.django_db
def test_healthz_reports_database_and_worker(client) -> None:
    response = client.get("/healthz/")
    # No worker has run and beat has not ticked: down (tests/core/test_health.py has the rest).
    assert response.status_code == 503
    body = response.json()
    assert (body["database"], body["worker"]["alive"], body["infobip"]) == (
        "ok",
        False,
        "unchecked",
    )


@pytest.mark.django_db
def test_admin_login_page_shows_sandbox_banner(client) -> None:
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"Sandbox \xe2\x80\x94 no real messages are sent" in response.content


def test_bootstrap_env_generates_secrets_once(tmp_path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import bootstrap_env
    finally:
        sys.path.pop(0)
    env_file = tmp_path / ".env"
    env_file.write_text("INFOBIP_API_KEY=keep-me\n")
    bootstrap_env.main(env_file)
    first = env_file.read_text()
    assert "INFOBIP_API_KEY=keep-me" in first
    assert "DEBUG=true" in first
    assert "SECRET_KEY=" in first
    assert "INFOBIP_WEBHOOK_TOKEN=" in first
    bootstrap_env.main(env_file)
    assert env_file.read_text() == first
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    "line",
    [
        '"POST /{t}/../ HTTP/1.1" 404',
        '"POST /infobip/webhooks/x/{t}/sms/reports/ HTTP/1.1" 404',
        '"GET /{t}\\xff/ HTTP/1.1" 400',
        "Not Found: /{t}\x00",
        '"POST /x/%54{rest} HTTP/1.1" 404',  # percent-encoded, as gunicorn logs the raw line
        '"POST /x/{lower} HTTP/1.1" 404',  # every character escaped, lower-case hex
    ],
)
def test_the_webhook_token_is_never_logged_wherever_it_stands(settings, line) -> None:
    token = "TOKENabcdef0123456789secret"
    settings.INFOBIP_WEBHOOK_TOKEN = token
    text = line.format(t=token, rest=token[1:], lower="".join(f"%{b:02x}" for b in token.encode()))
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, text, None, None)
    assert RedactSecretsFilter().filter(record)
    written = record.getMessage()
    assert "***" in written
    assert "0123456789" not in written
    assert "cret" not in written  # not even the last characters


def test_tracebacks_are_redacted_too(settings) -> None:
    settings.INFOBIP_WEBHOOK_TOKEN = "TOKENabcdef0123456789secret"
    try:
        raise ValueError("no route for /x/TOKENabcdef0123456789secret/")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    RedactSecretsFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "ValueError: no route for /x/***/" in formatted
    assert "0123456789" not in formatted
