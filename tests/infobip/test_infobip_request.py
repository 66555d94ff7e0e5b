"""`manage.py infobip_request`: any endpoint, the configured key and base URL, key never shown."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


@pytest.fixture
def on_sandbox(sandbox, settings):
    settings.INFOBIP_SANDBOX_URL = sandbox.url
    settings.INFOBIP_SANDBOX_API_KEY = sandbox.api_key
    return sandbox


def test_a_post_from_a_file_then_a_get_with_a_query(on_sandbox, capsys, tmp_path) -> None:
    body = {"messages": [{"sender": "Shop", "destinations": [{"to": "41793026727",
            "messageId": "custom-1"}], "content": {"text": "Hi"}}]}  # fmt: skip
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))
    call_command("infobip_request", "post", "/sms/3/messages", "--json", f"@{path}")
    sent = json.loads(capsys.readouterr().out)
    assert sent["messages"][0]["messageId"] == "custom-1"
    assert on_sandbox.state()["accepted"]["total"] == 1
    call_command("infobip_request", "GET", "/sms/3/logs?messageId=custom-1")
    out = capsys.readouterr()
    assert json.loads(out.out)["results"][0]["messageId"] == "custom-1"
    assert on_sandbox.api_key not in out.out + out.err


def test_refusals_name_the_problem_and_never_the_key(on_sandbox, settings) -> None:
    with pytest.raises(CommandError, match="not a URL"):
        call_command("infobip_request", "GET", "https://elsewhere.example/sms/3/logs")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("infobip_request", "POST", "/sms/3/messages", "--json", "{nope")
    settings.INFOBIP_SANDBOX_API_KEY = "wrong-key-0123456789"
    with pytest.raises(CommandError) as refused:
        call_command("infobip_request", "GET", "/sms/3/logs")
    assert "401" in str(refused.value)
    assert "wrong-key-0123456789" not in str(refused.value)
