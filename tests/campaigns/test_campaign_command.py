"""The `campaign` operator command, with eager tasks and the live sandbox."""

import csv
import json

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Campaign
from contacts.models import Contact
from tests.campaigns.conftest import make_audience

pytestmark = pytest.mark.django_db


def _run(*args: str, capsys) -> str:
    call_command("campaign", *args)
    return capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_create_preview_launch_status_export(live_sandbox, capsys, tmp_path) -> None:
    # Transactional: launch's on_commit enqueue fires (eagerly) before --wait starts polling.
    make_audience(12, name="vip")
    Contact.objects.filter(phone__endswith="00001").update(opted_out=True)
    out = _run(
        "create",
        "--name",
        "Spring",
        "--list",
        "vip",
        "--channel",
        "sms",
        "--text",
        "Hi {{first_name}} 😀",
        "--json",
        capsys=capsys,
    )
    campaign_id = json.loads(out)["id"]

    preview = json.loads(_run("preview", str(campaign_id), "--json", capsys=capsys))
    assert preview["audience"] == 12
    assert preview["excluded"]["opted_out"] == 1
    assert preview["messages"] == 11
    assert preview["encoding"] == {"UCS-2": 11}
    assert preview["ucs2_characters"] == ["😀"]
    assert preview["cost"] == {"amount": "0.4400", "currency": "EUR"}
    assert preview["samples"][0]["text"] == "Hi Ann0 😀"
    assert live_sandbox.state()["accepted"]["total"] == 0

    out = _run("launch", str(campaign_id), "--wait", "--timeout", "60", capsys=capsys)
    assert "recipients=12" in out
    status = json.loads(_run("status", str(campaign_id), "--json", capsys=capsys))
    assert status["state"] == "completed"
    assert status["counts"]["accepted"] == 11
    assert status["counts"]["skipped"] == 1

    target = tmp_path / "ledger.csv"
    assert "exported rows=12" in _run("export", str(campaign_id), str(target), capsys=capsys)
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == 12
    assert {row["state"] for row in rows} == {"accepted", "skipped"}
    assert rows[0]["text"] == "Hi Ann0 😀"


def test_bad_input_gets_a_clear_error(capsys) -> None:
    make_audience(1, name="vip")
    with pytest.raises(CommandError, match="no contact list named 'nope'"):
        call_command(
            "campaign",
            "create",
            "--name",
            "x",
            "--list",
            "nope",
            "--channel",
            "sms",
            "--text",
            "hi",
        )
    with pytest.raises(CommandError, match="text is empty"):
        call_command("campaign", "create", "--name", "x", "--list", "vip", "--channel", "sms")
    with pytest.raises(CommandError, match="no campaign with id 999"):
        call_command("campaign", "status", "999")
    with pytest.raises(CommandError, match=r"run `manage\.py sync_templates` first"):
        call_command(
            "campaign",
            "create",
            "--name",
            "x",
            "--list",
            "vip",
            "--channel",
            "whatsapp_template",
            "--template",
            "promo",
            "--language",
            "en",
        )
    with pytest.raises(CommandError, match="--send-at needs an ISO 8601"):
        call_command(
            "campaign",
            "create",
            "--name",
            "x",
            "--list",
            "vip",
            "--channel",
            "sms",
            "--text",
            "hi",
            "--send-at",
            "tomorrow",
        )
    assert Campaign.objects.count() == 0
