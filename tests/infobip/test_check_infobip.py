"""check_infobip: success, and a reason an operator can act on for each way it fails."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.infobip.conftest import API_KEY, BASE_URL, example
from tests.infobip.servers import closed_port

pytestmark = pytest.mark.usefixtures("no_client_factory")


def _infobip(base_url: str = "acme.api.infobip.com", key: str = API_KEY, **extra):
    return override_settings(
        INFOBIP_SANDBOX=False,
        INFOBIP_BASE_URL=base_url,
        INFOBIP_API_KEY=key,
        INFOBIP_MAX_RETRIES=0,
        **extra,
    )


def _run(*args: str) -> tuple[dict | None, str, CommandError | None]:
    out = StringIO()
    try:
        call_command("check_infobip", *args, stdout=out)
    except CommandError as exc:
        error = exc
    else:
        error = None
    text = out.getvalue()
    report = json.loads(text) if "--json" in args and text.strip() else None
    return report, text, error


def test_success_prints_one_line(mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/3/logs", json={"results": []})
    with _infobip():
        _report, text, error = _run()
    assert error is None
    assert text.startswith("check_infobip ok: Infobip at https://acme.api.infobip.com")
    assert API_KEY not in text


def test_success_as_json(mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/3/logs", json={"results": []})
    with _infobip():
        report, text, error = _run("--json")
    assert error is None
    assert report == {
        "ok": True,
        "sandbox": False,
        "base_url": BASE_URL,
        "api_key": "***" + API_KEY[-4:],
        "endpoint": "GET /sms/3/logs",
        "status_code": None,
        "error_code": None,
        "reason": f"Infobip at {BASE_URL} accepted the API key",
    }
    assert API_KEY not in text


def test_401_says_the_key_is_wrong(mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/3/logs", json=example("error_v3_401"), status=401)
    with _infobip():
        report, _text, error = _run("--json")
    assert error is not None
    assert report is not None
    assert report["ok"] is False
    assert (report["status_code"], report["error_code"]) == (401, "E401")
    assert "rejected the API key" in report["reason"]
    assert "INFOBIP_API_KEY" in str(error)


def test_403_names_the_missing_scope(mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/3/logs", body="", status=403)
    with _infobip():
        report, _text, error = _run("--json")
    assert error is not None
    assert report is not None
    assert report["status_code"] == 403
    assert "lacks the scope" in report["reason"]
    assert "sms:logs:read" in report["reason"]


def test_connection_refused_points_at_the_base_url() -> None:
    with closed_port() as port, _infobip(base_url=f"http://127.0.0.1:{port}"):
        report, _text, error = _run("--json")
    assert error is not None
    assert report is not None
    assert report["status_code"] is None
    assert "could not connect to http://127.0.0.1" in report["reason"]
    assert "INFOBIP_BASE_URL" in report["reason"]


def test_a_base_url_that_is_not_infobip(mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/3/logs", body="<html>Welcome to nginx</html>")
    with _infobip():
        _report, _text, error = _run()
    assert error is not None
    assert "does not look like Infobip's API" in str(error)


def test_a_missing_key_is_a_configuration_error() -> None:
    with _infobip(key=""):
        report, _text, error = _run("--json")
    assert error is not None
    assert report is not None
    assert "INFOBIP_API_KEY" in report["reason"]


def test_the_sandbox_not_running_says_so() -> None:
    with (
        closed_port() as port,
        override_settings(
            INFOBIP_SANDBOX=True,
            INFOBIP_SANDBOX_URL=f"http://127.0.0.1:{port}",
            INFOBIP_SANDBOX_API_KEY="sandbox-key",
            INFOBIP_MAX_RETRIES=0,
        ),
    ):
        report, _text, error = _run("--json")
    assert error is not None
    assert report is not None
    assert report["sandbox"] is True
    assert "is the sandbox running" in report["reason"]
