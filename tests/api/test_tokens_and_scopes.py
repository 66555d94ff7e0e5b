"""Tokens, scopes and roles: the API asks the same permissions as the UI, per token scope."""

import json

import pytest
from django.core.management import call_command

from api.models import ApiToken
from api.tokens import api_token_revoke, token_hash
from campaigns.models import Campaign
from campaigns.services import campaign_create
from tests.api.conftest import make_user
from tests.campaigns.conftest import make_audience
from ui.models import AuditEntry

pytestmark = pytest.mark.django_db


def _draft() -> Campaign:
    return campaign_create(name="spring", channel="sms", lists=[make_audience(3)], text="Hi")


def test_a_token_is_shown_once_and_stored_hashed(capsys, sender_user) -> None:
    call_command("api_token", "create", "--user", "sam", "--scopes", "read,messages:send", "--json")
    printed = json.loads(capsys.readouterr().out)
    token = ApiToken.objects.get(pk=printed["id"])
    assert printed["token"].startswith("hrld_")
    assert token.key_hash == token_hash(printed["token"])
    assert printed["token"] not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert token.scopes == ["read", "messages:send"]
    call_command("api_token", "list")
    assert printed["token"] not in capsys.readouterr().out


def test_unknown_scopes_are_refused_with_the_list(sender_user) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"unknown scope.*campaigns:nuke"):
        call_command("api_token", "create", "--user", "sam", "--scopes", "campaigns:nuke")


def test_a_token_without_campaigns_send_cannot_launch(api_for, sender_user) -> None:
    campaign = _draft()
    api = api_for(sender_user, ["read", "campaigns:write"])
    response = api.post(f"campaigns/{campaign.pk}/launch")
    assert response.status_code == 403
    error = response.json()["error"]
    assert "campaigns:send" in error["message"]
    assert set(error) == {"code", "message", "fields"}
    campaign.refresh_from_db()
    assert campaign.state == "draft"


def test_a_marketer_without_the_launch_permission_cannot_launch(api_for) -> None:
    campaign = _draft()
    marketer = make_user("mia", "Marketer")
    response = api_for(marketer, ["campaigns:send"]).post(f"campaigns/{campaign.pk}/launch")
    assert response.status_code == 403
    assert "ui.launch_campaign" in response.json()["error"]["message"]
    assert Campaign.objects.get(pk=campaign.pk).state == "draft"


def test_approval_applies_to_api_launches(api_for, sender_user, settings) -> None:
    settings.HERALD_REQUIRE_APPROVAL = True
    campaign = _draft()
    response = api_for(sender_user).post(f"campaigns/{campaign.pk}/launch")
    assert response.status_code == 403
    assert "approval" in response.json()["error"]["message"]


def test_a_sender_token_launches_and_the_write_is_audited(api_for, sender_user, live_sandbox):
    campaign = _draft()
    response = api_for(sender_user).post(f"campaigns/{campaign.pk}/launch")
    assert response.status_code == 200, response.content
    assert response.json()["state"] in ("running", "completed")
    entry = AuditEntry.objects.get(action="launch", campaign=campaign)
    assert entry.actor == sender_user
    status = api_for(sender_user, ["read"]).get(f"campaigns/{campaign.pk}").json()
    assert status["counts"]["accepted"] == 3


def test_a_revoked_token_is_refused(api_for, sender_user) -> None:
    api = api_for(sender_user, ["read"])
    assert api.get("contacts").status_code == 200
    api_token_revoke(token=ApiToken.objects.get())
    response = api.get("contacts")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_no_token_and_a_wrong_token_are_refused(api_for, sender_user) -> None:
    assert api_for(None).get("contacts").status_code in (401, 403)
    api = api_for(sender_user)
    api.token = "hrld_not-a-token"
    assert api.get("contacts").status_code == 401


def test_last_used_is_recorded(api_for, sender_user) -> None:
    api_for(sender_user, ["read"]).get("contacts")
    assert ApiToken.objects.get().last_used_at is not None


def test_rate_limit_answers_429_with_retry_after(api_for, sender_user, settings) -> None:
    from django.core.cache import cache

    cache.clear()
    settings.HERALD_API_RATE = "2/min"
    api = api_for(sender_user, ["read"])
    codes = [api.get("contacts").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    last = api.get("contacts")
    assert int(last["Retry-After"]) > 0
    assert last.json()["error"]["code"] == "throttled"
    cache.clear()


def test_reads_need_the_ui_view_permission_and_events_need_staff(api_for) -> None:
    nobody = make_user("nora")  # no role: no view permissions
    api = api_for(nobody)
    assert api.get("contacts").status_code == 403
    assert api.get("campaigns").status_code == 403
    assert api.get("event-subscriptions").status_code == 403
    marketer = api_for(make_user("mia", "Marketer"))
    assert marketer.get("contacts").status_code == 200
    assert marketer.get("inbound").status_code == 200
    refused = marketer.post(
        "event-subscriptions", {"url": "http://127.0.0.1:9/x", "events": ["message.final"]}
    )
    assert refused.status_code == 403
    assert "staff" in refused.json()["error"]["message"]
