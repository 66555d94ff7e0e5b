"""Production settings from one env file; logins throttled; a CSP on every page."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.rules.conftest import PASSWORD, make_role_user

ROOT = Path(__file__).resolve().parents[2]


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def test_check_deploy_is_clean_with_the_production_example(tmp_path) -> None:
    example = _env_example()
    assert example["DEBUG"] == "false"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "HERALD", "SECURE"))}
    env.update(example)
    # The example leaves the secrets empty on purpose: fill them as an operator would.
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        INFOBIP_WEBHOOK_TOKEN=secrets.token_urlsafe(24),
        INFOBIP_API_KEY="k",
        HERALD_READ_DOTENV="false",
        CELERY_BROKER_DIR=str(tmp_path / "broker"),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
@pytest.mark.parametrize("login_url", ["/login/", "/admin/login/"])
def test_repeated_wrong_passwords_lock_the_login_out(client, settings, login_url) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    user = make_role_user("superuser")
    for _ in range(3):
        response = client.post(login_url, {"username": user.username, "password": "wrong"})
        assert response.status_code in (200, 429)
    # Locked: even the right password is refused now, without a 500.
    response = client.post(login_url, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_right_password_before_the_limit_logs_in(client) -> None:
    user = make_role_user("sender")
    client.post("/login/", {"username": user.username, "password": "wrong"})
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_every_page_sends_a_strict_content_security_policy(client) -> None:
    client.force_login(make_role_user("superuser"))
    for url in ("/login/", reverse("ui:dashboard"), reverse("ui:campaigns"), "/admin/"):
        policy = client.get(url).headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy, url
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in re.sub(r"style-src-attr [^;]*", "", policy)
        assert "unsafe-eval" not in policy


def test_no_template_has_inline_scripts_or_handlers() -> None:
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<script\b([^>]*)>", text):
            attrs = match.group(1)
            assert "src=" in attrs or "application/json" in attrs, f"{path}: inline script"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{path}: inline event handler"
        assert "<style" not in text, f"{path}: inline <style> element"
