"""Campaign options on the API and the command line (issue 26 #2, #4, #5): the same rules and
words as the wizard."""

import json

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Campaign
from tests.api.conftest import make_user
from tests.factories import make_audience

pytestmark = pytest.mark.django_db


def test_the_api_takes_every_option_and_answers_the_forecast(api_for, sender_user):
    make_audience(2, name="Fans")
    api = api_for(sender_user)
    body = {
        "name": "Winter",
        "channel": "sms",
        "lists": ["Fans"],
        "text": "Hi",
        "send_window": {"start": "08:00", "end": "21:00"},
        "max_spend": "25.5",
        "frequency_cap_override": True,
        "sender": "ShopCo",
        "track_links": True,
    }
    created = api.post("campaigns", body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["send_window"] == {"start": "08:00", "end": "21:00"}
    assert (data["max_spend"], data["frequency_cap_override"]) == ("25.5000", True)
    preview = api.get(f"campaigns/{data['id']}/preview").json()
    assert {o["key"] for o in preview["options"]} >= {"quiet_hours", "sender", "budget"}
    assert preview["forecast"]["send_now"] + preview["forecast"]["waiting_total"] == 2
    assert preview["forecast"]["text"]
    cleared = api.call("PATCH", f"campaigns/{data['id']}", {"send_window": None})
    assert cleared.json()["send_window"] is None
    assert Campaign.objects.get().quiet_hours_start is None


def test_lifting_caps_over_the_api_needs_the_send_permission(api_for):
    make_audience(1, name="Fans")
    marketer = make_user("mia", "Marketer")
    api = api_for(marketer, ["read", "campaigns:write"])
    body = {"name": "W", "channel": "sms", "lists": ["Fans"], "text": "Hi"}
    refused = api.post("campaigns", body | {"frequency_cap_override": True})
    assert refused.status_code == 403
    assert not Campaign.objects.exists()
    campaign_id = api.post("campaigns", body).json()["id"]
    patched = api.call("PATCH", f"campaigns/{campaign_id}", {"frequency_cap_override": True})
    assert patched.status_code == 403
    assert Campaign.objects.get().frequency_cap_override is False


def test_the_command_keeps_quiet_hours_meaning_and_says_options_and_forecast(capsys):
    make_audience(2, name="Fans")
    for name, flag in (("old", "--quiet-hours"), ("new", "--send-window")):
        call_command(
            "campaign",
            "create",
            "--name",
            name,
            "--list",
            "Fans",
            "--channel",
            "sms",
            "--text",
            "Hi",
            flag,
            "08:00-21:00",
        )
    windows = set(Campaign.objects.values_list("quiet_hours_start", "quiet_hours_end"))
    assert len(windows) == 1
    assert [f"{t:%H:%M}" for t in windows.pop()] == ["08:00", "21:00"]
    campaign = Campaign.objects.first()
    capsys.readouterr()
    call_command("campaign", "preview", str(campaign.pk))
    out = capsys.readouterr().out
    assert "Quiet hours: Nothing is sent between 21:00 and 08:00" in out
    assert "if launched now:" in out
    call_command("campaign", "preview", str(campaign.pk), "--json")
    document = json.loads(capsys.readouterr().out)
    assert document["forecast"]["audience"] == 2


def test_the_command_refuses_to_lift_caps_for_a_user_without_the_send_permission():
    make_audience(1, name="Fans")
    make_user("mia", "Marketer")
    with pytest.raises(CommandError, match="lift frequency caps"):
        call_command(
            "campaign",
            "create",
            "--name",
            "W",
            "--list",
            "Fans",
            "--channel",
            "sms",
            "--text",
            "Hi",
            "--override-frequency-cap",
            "--as",
            "mia",
        )
    assert not Campaign.objects.exists()
