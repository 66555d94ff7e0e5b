"""Archiving campaigns: which states, who may, what it hides, and what it never changes."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from campaigns.editing import campaign_archive, campaign_unarchive
from campaigns.models import Campaign
from campaigns.services import CampaignError, campaign_launch
from campaigns.states import CampaignState
from core.models import AuditEntry
from core.rules import OPERATOR, Refused
from tests.factories import CampaignFactory, MessageFactory
from tests.rules.conftest import make_role_user
from tests.ui.conftest import make_user
from ui.roles import MARKETER

pytestmark = pytest.mark.django_db

FINISHED = [CampaignState.COMPLETED, CampaignState.CANCELLED, CampaignState.FAILED]
LIVE = [CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED]


def _snapshot(campaign: Campaign) -> tuple:
    campaign.refresh_from_db()
    return (
        campaign.state,
        campaign.state_reason,
        campaign.recipients,
        campaign.count_delivered,
        campaign.count_failed,
        campaign.cost_amount,
        campaign.updated_at,
        list(campaign.messages.values_list("id", "state", "price")),
    )


@pytest.mark.parametrize("state", [CampaignState.DRAFT, *FINISHED])
def test_drafts_and_finished_campaigns_archive_and_unarchive_without_other_changes(state):
    campaign = CampaignFactory(state=state, recipients=1, count_delivered=1)
    MessageFactory(campaign=campaign, state="delivered")
    before = _snapshot(campaign)
    archived = campaign_archive(campaign=campaign, actor=OPERATOR)
    assert archived.archived_at is not None
    assert _snapshot(campaign) == before
    assert campaign.archived_at == archived.archived_at
    entry = AuditEntry.objects.get(action="archive")
    assert (entry.campaign_id, entry.actor_name) == (campaign.pk, "operator")

    # Archiving again changes nothing and writes no second entry.
    assert campaign_archive(campaign=campaign, actor=OPERATOR).archived_at == archived.archived_at
    assert AuditEntry.objects.filter(action="archive").count() == 1

    assert campaign_unarchive(campaign=campaign, actor=OPERATOR).archived_at is None
    assert _snapshot(campaign) == before
    assert campaign.archived_at is None
    assert AuditEntry.objects.filter(action="unarchive", campaign=campaign).count() == 1


@pytest.mark.parametrize("state", LIVE)
def test_a_campaign_that_can_still_send_is_not_archived(state):
    campaign = CampaignFactory(state=state)
    with pytest.raises(CampaignError, match="only drafts and completed, cancelled or failed"):
        campaign_archive(campaign=campaign, actor=OPERATOR)
    campaign.refresh_from_db()
    assert campaign.archived_at is None
    assert not AuditEntry.objects.filter(action="archive").exists()


@pytest.mark.parametrize("role", ["anonymous", "viewer"])
def test_without_the_change_permission_nothing_changes(role):
    campaign = CampaignFactory(state=CampaignState.COMPLETED)
    actor = make_role_user(role)
    with pytest.raises(Refused, match="archive campaigns"):
        campaign_archive(campaign=campaign, actor=actor)
    Campaign.objects.filter(pk=campaign.pk).update(archived_at="2026-01-01T00:00:00Z")
    with pytest.raises(Refused, match="archive campaigns"):
        campaign_unarchive(campaign=campaign, actor=actor)
    campaign.refresh_from_db()
    assert campaign.archived_at is not None
    assert not AuditEntry.objects.filter(action__in=["archive", "unarchive"]).exists()


def test_a_marketer_may_archive():
    campaign = CampaignFactory(state=CampaignState.CANCELLED)
    marketer = make_user("mia", MARKETER)
    campaign_archive(campaign=campaign, actor=marketer)
    assert AuditEntry.objects.get(action="archive").actor == marketer


def test_an_archived_draft_is_not_launched_until_unarchived():
    campaign = CampaignFactory()
    campaign_archive(campaign=campaign, actor=OPERATOR)
    with pytest.raises(CampaignError, match="unarchive it before launching"):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.DRAFT


# The list and the dashboard.


def _client(client, role: str = "marketer"):
    client.force_login(make_role_user(role))
    return client


def test_the_list_hides_archived_campaigns_unless_the_filter_asks(client):
    shown = CampaignFactory(name="Autumn sale", state=CampaignState.COMPLETED)
    hidden = CampaignFactory(name="Winter sale", state=CampaignState.COMPLETED)
    campaign_archive(campaign=hidden, actor=OPERATOR)
    client = _client(client)
    url = reverse("ui:campaigns")
    page = client.get(url).content.decode()
    assert shown.name in page
    assert hidden.name not in page
    page = client.get(url, {"archived": "only"}).content.decode()
    assert hidden.name in page
    assert shown.name not in page
    assert 'value="only" selected' in page
    page = client.get(url, {"archived": "all", "q": "sale"}).content.decode()
    assert hidden.name in page
    assert shown.name in page
    # Anything else is the default, never an error.
    response = client.get(url, {"archived": "x" * 500})
    assert response.status_code == 200
    assert hidden.name not in response.content.decode()


def test_the_dashboard_leaves_archived_campaigns_out(client):
    shown = CampaignFactory(name="Autumn sale", state=CampaignState.COMPLETED)
    hidden = CampaignFactory(name="Winter sale", state=CampaignState.COMPLETED)
    campaign_archive(campaign=hidden, actor=OPERATOR)
    client = _client(client)
    for name in ("ui:dashboard", "ui:dashboard_campaigns"):
        page = client.get(reverse(name)).content.decode()
        assert shown.name in page
        assert hidden.name not in page


def test_archive_and_unarchive_from_the_campaign_page(client):
    campaign = CampaignFactory(state=CampaignState.COMPLETED)
    client = _client(client)
    page = client.get(reverse("ui:campaign", args=[campaign.pk])).content.decode()
    assert reverse("ui:campaign_archive", args=[campaign.pk]) in page
    confirm = client.get(reverse("ui:campaign_archive", args=[campaign.pk]))
    assert confirm.status_code == 200
    assert b"csrfmiddlewaretoken" in confirm.content
    campaign.refresh_from_db()
    assert campaign.archived_at is None  # GET only asks
    response = client.post(reverse("ui:campaign_archive", args=[campaign.pk]))
    assert response["Location"] == reverse("ui:campaign", args=[campaign.pk])
    campaign.refresh_from_db()
    assert campaign.archived_at is not None
    page = client.get(reverse("ui:campaign", args=[campaign.pk])).content.decode()
    assert 'id="archived-badge"' in page
    assert reverse("ui:campaign_unarchive", args=[campaign.pk]) in page
    client.post(reverse("ui:campaign_unarchive", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.archived_at is None


def test_a_draft_archives_from_its_preview_and_loses_its_launch_button(client):
    campaign = CampaignFactory()
    client = _client(client, "sender")
    preview = reverse("ui:campaign_preview", args=[campaign.pk])
    launch = reverse("ui:campaign_action", args=[campaign.pk, "launch"])
    page = client.get(preview).content.decode()
    assert reverse("ui:campaign_archive", args=[campaign.pk]) in page
    assert launch in page
    response = client.post(reverse("ui:campaign_archive", args=[campaign.pk]))
    assert response["Location"] == preview
    page = client.get(preview).content.decode()
    assert launch not in page
    assert reverse("ui:campaign_unarchive", args=[campaign.pk]) in page


def test_the_page_refuses_a_running_campaign_with_a_message(client):
    campaign = CampaignFactory(state=CampaignState.RUNNING)
    client = _client(client)
    page = client.get(reverse("ui:campaign", args=[campaign.pk])).content.decode()
    assert reverse("ui:campaign_archive", args=[campaign.pk]) not in page
    response = client.post(reverse("ui:campaign_archive", args=[campaign.pk]), follow=True)
    assert response.status_code == 200
    assert "Not archived" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.archived_at is None


def test_a_viewer_cannot_archive_from_the_browser(client):
    campaign = CampaignFactory(state=CampaignState.COMPLETED)
    client = _client(client, "viewer")
    page = client.get(reverse("ui:campaign", args=[campaign.pk])).content.decode()
    assert reverse("ui:campaign_archive", args=[campaign.pk]) not in page
    assert client.post(reverse("ui:campaign_archive", args=[campaign.pk])).status_code == 403
    campaign.refresh_from_db()
    assert campaign.archived_at is None


def test_an_unknown_campaign_is_a_404(client):
    client = _client(client)
    assert client.post(reverse("ui:campaign_archive", args=[999999])).status_code == 404


# The admin.


def test_admin_actions_need_the_change_permission(client):
    campaign = CampaignFactory(state=CampaignState.COMPLETED)
    url = reverse("admin:campaigns_campaign_changelist")
    client.force_login(make_role_user("viewer"))
    assert 'value="archive"' not in client.get(url).content.decode()
    client.post(url, {"action": "archive", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.archived_at is None

    client.force_login(make_role_user("marketer"))
    body = client.get(url).content.decode()
    assert 'value="archive"' in body
    assert 'value="unarchive"' in body
    client.post(url, {"action": "archive", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.archived_at is not None
    entry = AuditEntry.objects.get(action="archive")
    assert entry.actor_name == "marketer"
    assert client.get(url, {"archived_at__isnull": "False"}).status_code == 200
    client.post(url, {"action": "unarchive", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.archived_at is None


def test_the_admin_reports_a_refused_campaign_and_archives_the_rest(client):
    done = CampaignFactory(state=CampaignState.COMPLETED)
    running = CampaignFactory(state=CampaignState.RUNNING, name="Live one")
    client.force_login(make_role_user("superuser"))
    url = reverse("admin:campaigns_campaign_changelist")
    response = client.post(
        url, {"action": "archive", "_selected_action": [done.pk, running.pk]}, follow=True
    )
    assert "Live one" in response.content.decode()
    done.refresh_from_db()
    running.refresh_from_db()
    assert done.archived_at is not None
    assert running.archived_at is None


# The command.


def test_the_command_archives_and_unarchives(settings):
    settings.HERALD_CLI_USER = ""
    campaign = CampaignFactory(state=CampaignState.FAILED)
    out = StringIO()
    call_command("campaign", "archive", str(campaign.pk), stdout=out)
    assert out.getvalue().startswith(f"campaign {campaign.pk} failed archived_at=")
    out = StringIO()
    call_command("campaign", "unarchive", str(campaign.pk), "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "id": campaign.pk,
        "state": "failed",
        "archived_at": None,
    }
    make_role_user("marketer")
    out = StringIO()
    call_command("campaign", "archive", str(campaign.pk), "--as", "marketer", "--json", stdout=out)
    assert json.loads(out.getvalue())["archived_at"]
    assert AuditEntry.objects.filter(action="archive").latest("id").actor_name == "marketer"


def test_the_command_refuses_with_a_message(settings):
    settings.HERALD_CLI_USER = ""
    running = CampaignFactory(state=CampaignState.RUNNING)
    with pytest.raises(CommandError, match="only drafts"):
        call_command("campaign", "archive", str(running.pk))
    make_role_user("viewer")
    done = CampaignFactory(state=CampaignState.COMPLETED)
    with pytest.raises(CommandError, match="refused"):
        call_command("campaign", "archive", str(done.pk), "--as", "viewer")
    with pytest.raises(CommandError, match="no campaign with id"):
        call_command("campaign", "archive", "999999")
    done.refresh_from_db()
    assert done.archived_at is None
