"""Campaigns admin: lists render, actions call the services, the ledger is read-only."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign, Message
from campaigns.services import campaign_create
from tests.campaigns.conftest import make_audience

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign() -> Campaign:
    return campaign_create(name="admin", channel="sms", lists=[make_audience(3)], text="Hi")


def test_changelists_and_change_page_render(admin_client, campaign) -> None:
    for url in (
        reverse("admin:campaigns_campaign_changelist"),
        reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
        reverse("admin:campaigns_message_changelist") + "?state__exact=queued",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    assert b"admin" in admin_client.get(reverse("admin:campaigns_campaign_changelist")).content


def test_launch_and_cancel_actions_go_through_the_services(
    admin_client, campaign, live_sandbox, django_capture_on_commit_callbacks
) -> None:
    url = reverse("admin:campaigns_campaign_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"action": "launch", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.state == "completed"
    assert campaign.count_accepted == 3
    response = admin_client.post(
        url, {"action": "cancel", "_selected_action": [campaign.pk]}, follow=True
    )
    assert b"cannot become cancelled" in response.content
    assert Campaign.objects.get(pk=campaign.pk).state == "completed"


def test_the_ledger_cannot_be_edited_or_deleted(admin_client, campaign, live_sandbox) -> None:
    from campaigns.freeze import campaign_freeze

    campaign_freeze(campaign=campaign)
    message = Message.objects.first()
    url = reverse("admin:campaigns_message_change", args=[message.pk])
    admin_client.post(url, {"state": "delivered"})
    assert Message.objects.get(pk=message.pk).state == "queued"
    assert admin_client.get(reverse("admin:campaigns_message_add")).status_code == 403
    delete = reverse("admin:campaigns_message_delete", args=[message.pk])
    assert admin_client.get(delete).status_code == 403


def test_send_batches_are_listed_read_only(admin_client, campaign) -> None:
    from django.utils import timezone

    from campaigns.models import SendBatch

    batch = SendBatch.objects.create(campaign=campaign, ids=[11, 12, 13], claimed_at=timezone.now())
    page = admin_client.get(
        reverse("admin:campaigns_sendbatch_changelist") + "?state__exact=claimed"
    )
    assert page.status_code == 200
    assert f">{batch.pk}<".encode() in page.content
    assert b'<td class="field-size">3</td>' in page.content
    change = reverse("admin:campaigns_sendbatch_change", args=[batch.pk])
    admin_client.post(change, {"state": "released", "ids": "[]"})
    assert SendBatch.objects.get(pk=batch.pk).state == "claimed"
    assert admin_client.get(reverse("admin:campaigns_sendbatch_add")).status_code == 403
    delete = reverse("admin:campaigns_sendbatch_delete", args=[batch.pk])
    assert admin_client.get(delete).status_code == 403
