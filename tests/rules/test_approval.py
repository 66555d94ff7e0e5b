"""Approval is for what was approved; the operator (no --as) still needs a named approver."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services import campaign_approve, campaign_launch, campaign_start_due
from core.models import AuditEntry
from core.rules import OPERATOR, Refused
from tests.rules.conftest import campaign_ready_for, make_role_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def approving(settings):
    settings.HERALD_REQUIRE_APPROVAL = True


@pytest.fixture
def sender():
    return make_role_user("sender")


@pytest.fixture
def approver():
    return make_role_user("superuser")


def test_unapproved_launch_is_refused_on_every_surface(approving, creator, sender, client):
    campaign = campaign_ready_for("launch", creator=creator)
    with pytest.raises(Refused) as refused:
        campaign_launch(campaign=campaign, actor=sender)
    assert refused.value.missing == "approval"
    with pytest.raises(CommandError, match="approval"):
        call_command("campaign", "launch", str(campaign.pk))  # the operator, no --as
    client.force_login(sender)
    client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "launch", "_selected_action": [campaign.pk]},
    )
    client.post(reverse("ui:campaign_action", args=[campaign.pk, "launch"]))
    assert Campaign.objects.get(pk=campaign.pk).state == "draft"
    assert not AuditEntry.objects.filter(action="launch").exists()


def test_the_creator_cannot_approve_and_the_operator_cannot_approve(approving, sender):
    campaign = campaign_ready_for("launch", creator=sender)
    with pytest.raises(Refused, match="different person"):
        campaign_approve(campaign=campaign, actor=sender)
    with pytest.raises(CommandError, match="named user"):
        call_command("campaign", "approve", str(campaign.pk))
    with pytest.raises(CommandError, match="different person"):
        call_command("campaign", "approve", str(campaign.pk), "--as", sender.username)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", "Hi {{first_name}}, 50% off"),
        ("sender", "Other"),
        ("send_at", timezone.now() + dt.timedelta(days=3)),
        ("speed_limit", 10),
        ("track_links", True),
        ("sms_validity_minutes", 60),
    ],
)
def test_any_change_after_approval_voids_it(approving, creator, sender, approver, field, value):
    campaign = campaign_ready_for("launch", creator=creator)
    campaign_approve(campaign=campaign, actor=approver)
    setattr(campaign, field, value)
    campaign.save()
    with pytest.raises(Refused, match="changed after it was approved"):
        campaign_launch(campaign=campaign, actor=sender)
    assert Campaign.objects.get(pk=campaign.pk).state == "draft"
    campaign_approve(campaign=campaign, actor=approver)  # approving again: launches
    assert campaign_launch(campaign=campaign, actor=sender).state in ("running", "scheduled")


def test_changing_the_audience_voids_the_approval(approving, creator, sender, approver):
    from tests.rules.conftest import make_audience

    campaign = campaign_ready_for("launch", creator=creator)
    campaign_approve(campaign=campaign, actor=approver)
    campaign.lists.add(make_audience(2, name="More people", prefix="+4479461"))
    with pytest.raises(Refused, match="changed after"):
        campaign_launch(campaign=campaign, actor=sender)


def test_editing_the_segment_or_how_it_combines_voids_the_approval(
    approving, creator, sender, approver
) -> None:
    from campaigns.segments import segment_save

    segment = segment_save(
        name="Recent",
        rules={"rules": [{"field": "engagement", "event": "delivered", "within_days": 30}]},
    )
    campaign = campaign_ready_for("launch", creator=creator)
    campaign.segment = segment
    campaign.save()
    campaign_approve(campaign=campaign, actor=approver)
    # The segment's rules are what the approver saw: a wider segment is another audience.
    segment_save(
        name="Recent",
        segment=segment,
        rules={"rules": [{"field": "engagement", "event": "delivered", "within_days": 365}]},
    )
    with pytest.raises(Refused, match="changed after"):
        campaign_launch(campaign=Campaign.objects.get(pk=campaign.pk), actor=sender)
    campaign_approve(campaign=Campaign.objects.get(pk=campaign.pk), actor=approver)
    Campaign.objects.filter(pk=campaign.pk).update(audience_match="all")
    with pytest.raises(Refused, match="changed after"):
        campaign_launch(campaign=Campaign.objects.get(pk=campaign.pk), actor=sender)


def test_an_admin_edit_voids_the_approval(approving, creator, sender, approver, client):
    campaign = campaign_ready_for("launch", creator=creator)
    campaign_approve(campaign=campaign, actor=approver)
    client.force_login(approver)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    # The inlines (a split test's variants and test) post their management forms, unchanged.
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data |= {f"{management.prefix}-{k}": v for k, v in management.initial.items()}
    data.update(
        text="Completely different",
        lists=[c.pk for c in campaign.lists.all()],
        exclude_lists=[],
        template_mapping="{}",
    )
    data = {k: v for k, v in data.items() if not isinstance(v, bool) or v}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert AuditEntry.objects.filter(action="edit", campaign=campaign, actor=approver).exists()
    with pytest.raises(Refused, match="changed after"):
        campaign_launch(campaign=Campaign.objects.get(pk=campaign.pk), actor=sender)


def test_operator_launches_what_a_named_user_approved_and_audit_keeps_the_content(
    approving, creator, approver
):
    campaign = campaign_ready_for("launch", creator=creator)
    call_command("campaign", "approve", str(campaign.pk), "--as", approver.username)
    call_command("campaign", "launch", str(campaign.pk))
    assert Campaign.objects.get(pk=campaign.pk).state == "running"
    approve = AuditEntry.objects.get(action="approve", campaign=campaign)
    launch = AuditEntry.objects.get(action="launch", campaign=campaign)
    assert approve.actor == approver
    assert launch.actor is None
    assert launch.actor_name == "operator"
    assert approve.content["text"] == launch.content["text"] == "Hi {{first_name}}"
    assert launch.content["lists"] == approve.content["lists"] != []


def test_without_approval_rule_the_operator_may_launch(creator):
    campaign = campaign_ready_for("launch", creator=creator)
    call_command("campaign", "launch", str(campaign.pk))
    assert Campaign.objects.get(pk=campaign.pk).state == "running"
    assert AuditEntry.objects.get(action="launch").actor_name == "operator"


def test_a_scheduled_campaign_edited_after_approval_does_not_start(
    approving, creator, sender, approver
):
    campaign = campaign_ready_for("launch", creator=creator)
    campaign.send_at = timezone.now() + dt.timedelta(hours=1)
    campaign.save()
    campaign_approve(campaign=campaign, actor=approver)
    assert campaign_launch(campaign=campaign, actor=sender).state == "scheduled"
    Campaign.objects.filter(pk=campaign.pk).update(text="Edited behind the approval's back")
    started = campaign_start_due(now=timezone.now() + dt.timedelta(hours=2))
    assert started == []
    campaign.refresh_from_db()
    assert campaign.state == "draft"
    assert "approved" in campaign.state_reason


def test_cli_env_default_user_is_used(settings, creator):
    settings.HERALD_CLI_USER = "marketer"
    make_role_user("marketer")
    campaign = campaign_ready_for("launch", creator=creator)
    with pytest.raises(CommandError, match=r"ui\.launch_campaign"):
        call_command("campaign", "launch", str(campaign.pk))
    assert Campaign.objects.get(pk=campaign.pk).state == "draft"


def test_operator_is_not_a_named_user():
    assert not OPERATOR.is_authenticated
