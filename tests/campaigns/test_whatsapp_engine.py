"""WhatsApp campaigns: templates against the sandbox, the drift guard, SMS failover both ways."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.failover import failover_after_reports, failover_overdue
from campaigns.ledger import Outcome, messages_apply_outcomes
from campaigns.models import Campaign, Message
from campaigns.services import campaign_create, campaign_launch, campaign_start_due
from campaigns.tasks import send_batch
from core.rules import OPERATOR
from tests.campaigns.conftest import make_audience
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import template_apply_status_update, templates_sync

pytestmark = pytest.mark.django_db
SENDER = "447860099299"


@pytest.fixture
def templates(live_sandbox, settings) -> dict[str, WhatsAppTemplate]:
    settings.INFOBIP_WHATSAPP_SENDER = SENDER
    templates_sync(sender=SENDER)
    return {t.name: t for t in WhatsAppTemplate.objects.all()}


def _template_campaign(templates, n: int = 6, **kwargs) -> Campaign:
    return campaign_create(
        name="wa",
        channel="whatsapp_template",
        lists=[make_audience(n)],
        template=templates["bienvenida"],
        template_mapping={"body": [{"source": "field", "value": "first_name", "fallback": None}]},
        **kwargs,
    )


def _launch(campaign: Campaign, capture) -> Campaign:
    with capture(execute=True):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    campaign.refresh_from_db()
    return campaign


def test_template_campaign_sends_rendered_templates(
    templates, live_sandbox, django_capture_on_commit_callbacks
) -> None:
    campaign = _launch(_template_campaign(templates), django_capture_on_commit_callbacks)
    assert campaign.state == "completed"
    assert campaign.count_accepted == 6
    message = Message.objects.get(phone="+447946000002")
    assert message.template_values["body"] == ["Ann2"]
    assert message.text == "Hola Ann2, bienvenido a Herald."
    assert live_sandbox.state()["accepted"]["whatsapp"] == 6


def test_mismatched_mapping_is_refused_naming_the_placeholder(templates) -> None:
    with pytest.raises(ValidationError) as caught:
        campaign_create(
            name="bad",
            channel="whatsapp_template",
            lists=[make_audience(1)],
            template=templates["bienvenida"],
            template_mapping={"body": []},
        )
    assert "{{1}}" in " ".join(caught.value.messages)


def test_template_paused_mid_run_pauses_the_campaign(
    templates, live_sandbox, django_capture_on_commit_callbacks, settings
) -> None:
    from campaigns.freeze import campaign_freeze
    from campaigns.sending import campaign_send_batch

    settings.HERALD_BATCH_SIZE = 2
    campaign = _template_campaign(templates)
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    campaign_freeze(campaign=campaign)
    assert campaign_send_batch(campaign_id=campaign.pk).accepted == 2
    template_apply_status_update(
        sender=SENDER, name="bienvenida", language="es", status="FIRST_PAUSED"
    )
    assert campaign_send_batch(campaign_id=campaign.pk).claimed == 0
    campaign.refresh_from_db()
    assert campaign.state == "paused"
    assert "drift guard" in campaign.state_reason
    assert "PAUSED" in campaign.state_reason
    assert campaign.count_queued == 4
    assert live_sandbox.state()["accepted"]["total"] == 2


def test_a_template_not_approved_cannot_launch(templates) -> None:
    from campaigns.services import CampaignError

    campaign = campaign_create(
        name="pending",
        channel="whatsapp_template",
        lists=[make_audience(1)],
        template=templates["summer_sale"],
        template_mapping=_mapping_for(templates["summer_sale"]),
    )
    with pytest.raises(CampaignError, match="PENDING"):
        campaign_launch(campaign=campaign, actor=OPERATOR)


def _mapping_for(template: WhatsAppTemplate) -> dict:
    slot = {"source": "literal", "value": "x", "fallback": None}
    mapping: dict = {"body": [slot] * template.placeholders.get("body", 0)}
    if template.placeholders.get("header"):
        mapping["header"] = [slot]
    return mapping


def test_failover_sms_for_undeliverable_whatsapp_once(
    templates, live_sandbox, django_capture_on_commit_callbacks
) -> None:
    campaign = _template_campaign(
        templates, failover_mode="herald", failover_text="Hi {{first_name}}, see our offer"
    )
    campaign = _launch(campaign, django_capture_on_commit_callbacks)
    whatsapp = list(Message.objects.filter(channel="whatsapp").order_by("id"))
    failed = whatsapp[:2]
    messages_apply_outcomes(
        outcomes=[
            Outcome(str(m.message_id), "undeliverable", status_name="UNDELIVERABLE_NOT_DELIVERED")
            for m in failed
        ]
    )
    with django_capture_on_commit_callbacks(execute=True):
        failover_after_reports(message_ids=[m.pk for m in failed])
        failover_after_reports(message_ids=[m.pk for m in failed])  # a duplicated report batch
    sms = list(Message.objects.filter(channel="sms").order_by("id"))
    assert [m.replaces_id for m in sms] == [m.pk for m in failed]
    assert sms[0].text == "Hi Ann0, see our offer"
    assert {m.state for m in sms} == {"accepted"}
    campaign.refresh_from_db()
    assert (campaign.failover_sent, campaign.recipients) == (2, 6)
    assert live_sandbox.state()["accepted"] == {"total": 8, "sms": 2, "whatsapp": 6}


def test_late_whatsapp_delivery_cancels_a_failover_not_yet_sent(
    templates, live_sandbox, django_capture_on_commit_callbacks, settings
) -> None:
    campaign = _template_campaign(templates, failover_mode="herald", failover_text="Hi")
    campaign = _launch(campaign, django_capture_on_commit_callbacks)
    Campaign.objects.filter(pk=campaign.pk).update(state="paused")  # hold the SMS in the queue
    later = timezone.now() + dt.timedelta(seconds=settings.HERALD_FAILOVER_AFTER + 1)
    assert failover_overdue(now=later) == 6
    late = Message.objects.filter(channel="whatsapp").first()
    messages_apply_outcomes(outcomes=[Outcome(str(late.message_id), "delivered")])
    failover_after_reports(message_ids=[late.pk])
    cancelled = Message.objects.get(replaces=late)
    assert cancelled.state == "skipped"
    assert "delivered late" in cancelled.reason
    assert Message.objects.filter(channel="sms", state="queued").count() == 5


def test_scheduled_campaign_starts_when_due(live_sandbox, django_capture_on_commit_callbacks):
    campaign = campaign_create(
        name="later",
        channel="sms",
        lists=[make_audience(4)],
        text="Hi",
        send_at=timezone.now() + dt.timedelta(minutes=5),
    )
    assert campaign_launch(campaign=campaign, actor=OPERATOR).state == "scheduled"
    assert campaign_start_due() == []
    with django_capture_on_commit_callbacks(execute=True):
        started = campaign_start_due(now=timezone.now() + dt.timedelta(minutes=6))
    assert started == [campaign.pk]
    campaign.refresh_from_db()
    assert (campaign.state, campaign.count_accepted) == ("completed", 4)
    send_batch.delay(campaign.pk)  # a late duplicate changes nothing
    assert live_sandbox.state()["accepted"]["total"] == 4
