"""campaigns.outcomes: what Infobip reports moves the ledger, then its follow-ups run."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.expiry import messages_expire
from campaigns.ledger import Outcome
from campaigns.models import Campaign, Message
from campaigns.outcomes import outcomes_apply_with_failover
from tests.factories import CampaignFactory, MessageFactory

pytestmark = pytest.mark.django_db


def _counted(campaign: Campaign) -> None:
    """The factories leave counters alone: set them from the rows, as a launch would."""
    counts = {}
    for state in Message.objects.filter(campaign=campaign).values_list("state", flat=True):
        counts[f"count_{state}"] = counts.get(f"count_{state}", 0) + 1
    Campaign.objects.filter(pk=campaign.pk).update(**counts)


def test_a_blocking_report_opts_the_contact_out_and_skips_their_queued_messages(settings) -> None:
    settings.HERALD_OPT_OUT_PROVIDER_ERRORS = ["REJECTED_DND"]
    sent = MessageFactory(state="accepted")
    queued = MessageFactory(contact=sent.contact, state="queued")  # in another campaign
    other = MessageFactory(campaign=queued.campaign, state="queued")
    _counted(sent.campaign)
    _counted(queued.campaign)

    result = outcomes_apply_with_failover(
        outcomes=[Outcome(str(sent.message_id), "rejected", status_name="REJECTED_DND")]
    )

    assert result.applied == 1
    states = dict(Message.objects.values_list("pk", "state"))
    assert states == {sent.pk: "rejected", queued.pk: "skipped", other.pk: "queued"}
    sent.contact.refresh_from_db()
    assert (sent.contact.opted_out, sent.contact.opted_out_source) == (True, "provider_error")


def test_the_plain_ledger_write_opts_nobody_out(settings) -> None:
    from campaigns.ledger import messages_apply_outcomes

    settings.HERALD_OPT_OUT_PROVIDER_ERRORS = ["REJECTED_DND"]
    sent = MessageFactory(state="accepted")
    _counted(sent.campaign)
    messages_apply_outcomes(
        outcomes=[Outcome(str(sent.message_id), "rejected", status_name="REJECTED_DND")]
    )
    sent.contact.refresh_from_db()
    assert not sent.contact.opted_out


def test_an_expired_whatsapp_message_gets_its_sms_failover() -> None:
    campaign = CampaignFactory(
        state="running",
        channel="whatsapp_template",
        failover_mode="herald",
        failover_text="Hi {{first_name}}",
    )
    silent = MessageFactory(campaign=campaign, channel="whatsapp", state="accepted")
    _counted(campaign)
    now = timezone.now() + dt.timedelta(days=3)

    moved = messages_expire(
        message_ids=[silent.message_id], status_name="TEST_EXPIRED", reason="test", now=now
    )

    assert moved == 1
    silent.refresh_from_db()
    assert (silent.state, silent.status_name) == ("expired", "TEST_EXPIRED")
    failover = Message.objects.get(replaces=silent)
    assert (failover.channel, failover.state) == ("sms", "queued")
    assert failover.text == f"Hi {silent.contact.first_name}"
