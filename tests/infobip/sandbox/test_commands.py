"""Starting the sandbox (refused with real credentials) and the management commands."""

import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from infobip.sandbox import real_credentials_reason
from tests.fixtures.sandbox import ROOT

TOKEN = "test-webhook-token-0123456789"


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"INFOBIP_BASE_URL": "xk3j9.api.infobip.com"}, "INFOBIP_BASE_URL points at xk3j9"),
        ({"INFOBIP_API_KEY": "0123456789abcdef-real"}, "INFOBIP_API_KEY is set"),
    ],
)
def test_refuses_to_start_with_real_credentials(env, reason) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infobip.sandbox", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**_clean_env(), **env},
    )
    assert result.returncode == 2
    assert reason in result.stderr
    assert "refusing to start the Infobip sandbox" in result.stderr
    assert "0123456789abcdef-real" not in result.stderr + result.stdout
    assert "http://" not in result.stdout  # it never listened


def _clean_env() -> dict[str, str]:
    return {
        **os.environ,
        "HERALD_READ_DOTENV": "false",
        "INFOBIP_BASE_URL": "",
        "INFOBIP_API_KEY": "",
    }


def test_credentials_check() -> None:
    assert real_credentials_reason("", "", "sandbox-key") is None
    assert real_credentials_reason("http://127.0.0.1:9100", "sandbox-key", "sandbox-key") is None
    assert real_credentials_reason("http://localhost:9100", "", "sandbox-key") is None
    assert real_credentials_reason("https://api.infobip.com", "", "k") is not None
    assert real_credentials_reason("", "something-else", "sandbox-key") is not None


def test_manage_sandbox_refuses_real_credentials() -> None:
    with override_settings(INFOBIP_API_KEY="a-real-key"), pytest.raises(CommandError) as info:
        call_command("sandbox", "--port", "0")
    assert "INFOBIP_API_KEY is set" in str(info.value)
    assert "a-real-key" not in str(info.value)


def test_sandbox_inbound_goes_through_the_sandbox(sandbox, webhook_sink) -> None:
    out = io.StringIO()
    overrides = {
        "INFOBIP_SANDBOX_URL": sandbox.url,
        "INFOBIP_SANDBOX_API_KEY": sandbox.api_key,
        "PUBLIC_BASE_URL": webhook_sink.base,
        "INFOBIP_WEBHOOK_TOKEN": TOKEN,
    }
    with override_settings(**overrides):
        call_command(
            "sandbox_inbound",
            "--channel",
            "sms",
            "--from",
            "447900000001",
            "--text",
            "STOP",
            stdout=out,
        )
    (item,) = webhook_sink.results(f"/infobip/webhooks/{TOKEN}/sms/inbound/")
    assert (item["from"], item["keyword"]) == ("447900000001", "STOP")
    line = out.getvalue()
    assert "HTTP 200 (via sandbox)" in line
    assert TOKEN not in line
    assert sandbox.state()["inbound"]["pushed"] == 1


def test_sandbox_inbound_direct_and_failures(webhook_sink) -> None:
    out = io.StringIO()
    closed = "http://127.0.0.1:9"  # nothing listens there: the command goes direct
    with override_settings(
        INFOBIP_SANDBOX_URL=closed, PUBLIC_BASE_URL=webhook_sink.base, INFOBIP_WEBHOOK_TOKEN=TOKEN
    ):
        call_command(
            "sandbox_inbound",
            "--channel",
            "whatsapp",
            "--from",
            "447900000002",
            "--text",
            "HELP",
            "--json",
            stdout=out,
        )
        result = json.loads(out.getvalue())
        assert result["status"] == 200
        assert result["via"] == "direct (sandbox not running)"
        (item,) = webhook_sink.results(f"/infobip/webhooks/{TOKEN}/whatsapp/inbound/")
        assert item["message"] == {"type": "TEXT", "text": "HELP"}
        webhook_sink.status = 404
        with pytest.raises(CommandError, match="answered HTTP 404"):
            call_command(
                "sandbox_inbound",
                "--channel",
                "sms",
                "--from",
                "1",
                "--text",
                "hi",
                "--direct",
                stdout=io.StringIO(),
            )
    with override_settings(INFOBIP_WEBHOOK_TOKEN=""), pytest.raises(CommandError, match="TOKEN"):
        call_command("sandbox_inbound", "--channel", "sms", "--from", "1", "--text", "hi")
