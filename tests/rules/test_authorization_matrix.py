"""Every role × every state-changing campaign action × every surface (UI, admin, command).

Allowed: the action happens and is audited. Refused: the campaign is as it was, no message row
was written, no task was enqueued (nothing can be sent) and nothing was audited.
"""

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign, CampaignApproval, Message
from core.models import AuditEntry
from tests.rules.conftest import ACTIONS, ALLOWED, ROLES, campaign_ready_for, make_role_user

pytestmark = pytest.mark.django_db

ADMIN_ACTION = {"resend": "resend_failed"}
EFFECT = {"launch": "running", "pause": "paused", "resume": "running", "cancel": "cancelled"}


def _ui(client: Client, campaign: Campaign, action: str, user) -> None:
    response = client.post(reverse("ui:campaign_action", args=[campaign.pk, action]))
    if user is None:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("ui:login"))
    else:
        assert response.status_code in (302, 403)


def _admin(client: Client, campaign: Campaign, action: str, user) -> None:
    response = client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": ADMIN_ACTION.get(action, action), "_selected_action": [campaign.pk]},
    )
    if user is None:
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
    else:
        assert response.status_code in (200, 302, 403)


def _command(client: Client, campaign: Campaign, action: str, user) -> None:
    username = user.username if user is not None else "ghost"  # no such user: refused
    allowed = user is not None and user.username in ALLOWED
    if allowed:
        call_command("campaign", action, str(campaign.pk), "--as", username)
    else:
        with pytest.raises(CommandError) as refused:
            call_command("campaign", action, str(campaign.pk), "--as", username)
        assert "ghost" in str(refused.value) or "ui." in str(refused.value)


SURFACES = {"ui": _ui, "admin": _admin, "command": _command}


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_role_action_surface(
    surface, action, role, creator, client, settings, django_capture_on_commit_callbacks
) -> None:
    settings.HERALD_REQUIRE_APPROVAL = False
    user = make_role_user(role)
    if user is not None:
        client.force_login(user)
    campaign = campaign_ready_for(action, creator=creator)
    state_before = campaign.state
    messages_before = Message.objects.count()

    with django_capture_on_commit_callbacks() as enqueued:
        SURFACES[surface](client, campaign, action, user)

    campaign.refresh_from_db()
    audited = AuditEntry.objects.filter(campaign=campaign, action=action)
    if role in ALLOWED:
        assert audited.filter(actor=user).count() == 1
        if action == "approve":
            assert CampaignApproval.objects.get(campaign=campaign).approved_by == user
        elif action == "resend":
            assert Message.objects.count() == messages_before + 1
            assert enqueued, "a resend enqueues the dispatch"
        else:
            assert campaign.state == EFFECT[action]
    else:
        assert campaign.state == state_before
        assert Message.objects.count() == messages_before
        assert not CampaignApproval.objects.filter(campaign=campaign).exists()
        assert not audited.exists()
        assert enqueued == [], "a refused action enqueues nothing, so nothing is sent"


@pytest.mark.parametrize("role", ["viewer", "marketer", "staff"])
def test_admin_offers_lifecycle_actions_only_to_those_who_may_send(role, client) -> None:
    user = make_role_user(role)
    client.force_login(user)
    response = client.get(reverse("admin:campaigns_campaign_changelist"))
    if response.status_code == 403:  # staff without any permission: not even the list
        return
    body = response.content.decode()
    for action in ("launch", "approve", "pause", "cancel", "resend_failed"):
        assert f'value="{action}"' not in body


def test_sender_sees_the_lifecycle_actions_in_the_admin(client) -> None:
    client.force_login(make_role_user("sender"))
    body = client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    for action in ("launch", "approve", "pause", "cancel", "resend_failed"):
        assert f'value="{action}"' in body
