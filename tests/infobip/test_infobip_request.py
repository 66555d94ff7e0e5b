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


@pytest.mark.django_db
def test_a_post_from_a_file_then_a_get_with_a_query(on_sandbox, capsys, tmp_path) -> None:
    path = tmp_path / "body.json"
    path.write_text(json.dumps({"text": "Let's see how many characters remain unused"}))
    call_command("infobip_request", "post", "/sms/1/preview", "--json", f"@{path}")
    preview = json.loads(capsys.readouterr().out)
    assert preview["previews"][0]["messageCount"] == 1
    call_command("infobip_request", "GET", "/sms/3/logs?limit=1")
    out = capsys.readouterr()
    assert json.loads(out.out)["results"] == []
    assert on_sandbox.api_key not in out.out + out.err
    from core.models import AuditEntry

    assert list(AuditEntry.objects.values_list("detail", flat=True)) == [
        "GET /sms/3/logs",
        "POST /sms/1/preview",
    ]


@pytest.mark.django_db
def test_a_message_send_is_refused_nothing_goes_out(on_sandbox, tmp_path) -> None:
    """Every command that sends goes through the ledger: the custom call sends nothing."""
    body = {
        "messages": [
            {"sender": "Shop", "destinations": [{"to": "41793026727"}], "content": {"text": "Hi"}}
        ]
    }
    for method, path in [
        ("POST", "/sms/3/messages"),
        ("post", "/sms/2/text/advanced"),
        ("POST", "/whatsapp/1/message/text"),
        ("POST", "/SMS/3/messages/"),
    ]:
        with pytest.raises(CommandError, match="sends a message: send through POST"):
            call_command("infobip_request", method, path, "--json", json.dumps(body))
    assert on_sandbox.state()["accepted"]["total"] == 0


def test_refusals_name_the_problem_and_never_the_key(on_sandbox, settings) -> None:
    with pytest.raises(CommandError, match="not a URL"):
        call_command("infobip_request", "GET", "https://elsewhere.example/sms/3/logs")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("infobip_request", "POST", "/sms/1/preview", "--json", "{nope")
    settings.INFOBIP_SANDBOX_API_KEY = "wrong-key-0123456789"
    with pytest.raises(CommandError) as refused:
        call_command("infobip_request", "GET", "/sms/3/logs")
    assert "401" in str(refused.value)
    assert "wrong-key-0123456789" not in str(refused.value)
