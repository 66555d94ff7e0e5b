"""Issue 26 #13: "Request approval" — one service on every surface; approvers are notified in
the app (a count in their menu, the request first in their queue) and by the outbound event
`campaign.approval_requested`; the approve page shows the text, audience and cost."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from api.models import EventDelivery, EventSubscription
from campaigns.models import ApprovalRequest
from campaigns.services import (
    CampaignError,
    campaign_approval_request,
    campaign_approve,
    campaign_create,
)
from core.models import AuditEntry
from tests.api import conftest as api_conftest
from tests.ui.conftest import make_audience, make_user
from ui.roles import MARKETER, SENDER

pytestmark = pytest.mark.django_db
api_for = api_conftest.api_for  # the API tests' JSON client, as a fixture here too


@pytest.fixture
def approval_on(settings):
    settings.HERALD_REQUIRE_APPROVAL = True


@pytest.fixture
def people(approval_on):
    mia = make_user("mia", MARKETER)
    abe = make_user("abe", MARKETER, SENDER)
    campaign = campaign_create(
        name="Spring",
        channel="sms",
        lists=[make_audience(3)],
        text="Hi {{first_name}}",
        created_by=mia,
    )
    return mia, abe, campaign


def test_the_service_asks_once_and_the_approval_closes_it(people):
    mia, abe, campaign = people
    subscription = EventSubscription.objects.create(
        url="http://127.0.0.1:9/hook", events=["campaign.approval_requested"], secret="whsec_x"
    )
    first = campaign_approval_request(campaign=campaign, actor=mia, note="for Friday")
    assert campaign_approval_request(campaign=campaign, actor=mia) == first  # asked once
    assert AuditEntry.objects.filter(action="approval_request", campaign=campaign).count() == 1
    (event,) = EventDelivery.objects.filter(subscription=subscription)
    assert event.event_type == "campaign.approval_requested"
    assert event.payload == {"campaignId": campaign.pk, "name": "Spring", "requestedBy": "mia"}
    campaign_approve(campaign=campaign, actor=abe)
    first.refresh_from_db()
    assert first.closed_at is not None
    with pytest.raises(CampaignError, match="already approved"):
        campaign_approval_request(campaign=campaign, actor=mia)


def test_the_marketer_requests_and_the_approver_is_notified(client, people):
    mia, abe, campaign = people
    client.force_login(mia)
    preview = client.get(reverse("ui:campaign_preview", args=[campaign.pk])).content.decode()
    assert 'id="request-approval"' in preview
    client.post(reverse("ui:campaign_request_approval", args=[campaign.pk]), {"note": "Friday"})
    preview = client.get(reverse("ui:campaign_preview", args=[campaign.pk])).content.decode()
    assert 'id="approval-requested"' in preview
    assert "Approval requested by mia" in preview

    client.force_login(abe)
    page = client.get(reverse("ui:dashboard")).content.decode()
    assert '<span class="badge count" id="approvals-waiting"' in page
    queue = client.get(reverse("ui:approvals")).content.decode()
    assert f'id="requested-{campaign.pk}"' in queue
    assert "“Friday”" in queue
    approve = client.get(reverse("ui:campaign_action", args=[campaign.pk, "approve"]))
    page = approve.content.decode()
    assert 'id="approve-text">Hi Ann0</div>' in page  # the text as recipients read it
    assert "Customers" in page  # the audience
    assert "Send 3 SMS (3 parts) to 3 people now, estimated €0.12" in page  # and the cost
    client.post(reverse("ui:campaign_action", args=[campaign.pk, "approve"]))
    assert 'id="approvals-waiting"' not in client.get(reverse("ui:dashboard")).content.decode()


def test_the_command_line_and_the_api_request_too(people, api_for, capsys):
    mia, abe, campaign = people
    call_command("campaign", "request-approval", str(campaign.pk), "--as", "mia", "--json")
    answer = json.loads(capsys.readouterr().out)
    assert (answer["id"], answer["requested_by"]) == (campaign.pk, "mia")
    with pytest.raises(CommandError, match="no campaign"):
        call_command("campaign", "request-approval", "999999")
    ApprovalRequest.objects.all().delete()
    api = api_for(mia, ["campaigns:write"])
    response = api.post(f"campaigns/{campaign.pk}/request-approval", {"note": "by API"})
    assert response.status_code == 200, response.content
    assert response.json()["requested_by"] == "mia"
    assert ApprovalRequest.objects.get().note == "by API"
    campaign_approve(campaign=campaign, actor=abe)
    refused = api.post(f"campaigns/{campaign.pk}/request-approval", {})
    assert refused.status_code in (400, 409)
    assert "already approved" in refused.json()["error"]["message"]
