"""The campaign engine end to end, with eager tasks and the live sandbox."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.services import (
    CampaignError,
    campaign_cancel,
    campaign_create,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaign_status,
    campaign_test_send,
)
from contacts.models import Contact
from core.rules import OPERATOR
from tests.campaigns.conftest import make_audience

pytestmark = pytest.mark.django_db


def _launch(campaign: Campaign, capture) -> Campaign:
    with capture(execute=True):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    campaign.refresh_from_db()
    return campaign


def test_sms_campaign_sends_everyone_once_and_skips_the_opted_out(
    live_sandbox, django_capture_on_commit_callbacks
) -> None:
    audience = make_audience(60)
    Contact.objects.filter(phone__endswith="00007").update(opted_out=True)
    Contact.objects.filter(phone__endswith="00008").update(first_name="")
    campaign = campaign_create(
        name="spring", channel="sms", lists=[audience], text="Hi {{first_name}}, 20% off today"
    )
    campaign = _launch(campaign, django_capture_on_commit_callbacks)

    status = campaign_status(campaign=campaign)
    assert status["state"] == "completed"
    assert status["recipients"] == 60
    assert status["counts"]["accepted"] == 58
    assert status["counts"]["skipped"] == 2
    assert sum(status["counts"].values()) == 60
    reasons = dict(Message.objects.filter(state="skipped").values_list("phone", "reason"))
    assert reasons == {
        "+447946000007": "opted out",
        "+447946000008": "missing value for {{first_name}}",
    }
    state = live_sandbox.state()
    assert state["accepted"]["total"] == 58
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    sent = Message.objects.get(phone="+447946000003")
    assert sent.text == "Hi Ann3, 20% off today"
    assert (sent.parts, sent.encoding, sent.status_name) == (1, "GSM-7", "PENDING_ACCEPTED")
    assert live_sandbox.truth(str(sent.message_id))["to"] == "447946000003"


def test_a_duplicated_launch_and_extra_batch_tasks_send_nothing_twice(
    live_sandbox, django_capture_on_commit_callbacks
) -> None:
    from campaigns.tasks import campaign_start, send_batch

    campaign = campaign_create(name="dup", channel="sms", lists=[make_audience(30)], text="Hello")
    campaign = _launch(campaign, django_capture_on_commit_callbacks)
    campaign_start.delay(campaign.pk)
    for _ in range(3):
        send_batch.delay(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.recipients == 30
    assert Message.objects.filter(campaign=campaign).count() == 30
    state = live_sandbox.state()
    assert state["accepted"]["total"] == 30
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}


def test_create_refuses_what_could_not_be_sent() -> None:
    audience = make_audience(1)
    with pytest.raises(ValidationError, match="text is empty"):
        campaign_create(name="x", channel="sms", lists=[audience], text="  ")
    with pytest.raises(ValidationError, match="1,601 characters"):
        campaign_create(name="x", channel="sms", lists=[audience], text="a" * 1601)
    with pytest.raises(ValidationError, match="needs a template"):
        campaign_create(name="x", channel="whatsapp_template", lists=[audience])
    with pytest.raises(ValidationError, match="at least one contact list"):
        campaign_create(name="x", channel="sms", lists=[], text="hi")
    with pytest.raises(ValidationError, match="only applies to campaigns on other channels"):
        campaign_create(
            name="x",
            channel="sms",
            lists=[audience],
            text="hi",
            failover_mode="herald",
            failover_text="sms",
        )


def test_pause_resume_cancel_follow_the_lifecycle(live_sandbox, django_capture_on_commit_callbacks):
    audience = make_audience(10)
    campaign = campaign_create(
        name="life",
        channel="sms",
        lists=[audience],
        text="Hi",
        send_at=timezone.now() + dt.timedelta(hours=1),
    )
    campaign = _launch(campaign, django_capture_on_commit_callbacks)
    assert campaign.state == "scheduled"
    with pytest.raises(CampaignError, match="cannot become paused"):
        campaign_pause(campaign=campaign, actor=OPERATOR)
    campaign = campaign_cancel(campaign=campaign, actor=OPERATOR)
    assert campaign.state == "cancelled"
    with pytest.raises(CampaignError, match="cannot become running"):
        campaign_resume(campaign=campaign, actor=OPERATOR)
    assert live_sandbox.state()["accepted"]["total"] == 0


def test_paused_campaign_sends_no_further_batch_until_resumed(
    live_sandbox, django_capture_on_commit_callbacks
) -> None:
    from campaigns.freeze import campaign_freeze
    from campaigns.tasks import send_batch

    campaign = campaign_create(name="p", channel="sms", lists=[make_audience(40)], text="Hi")
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    campaign_freeze(campaign=campaign)
    campaign_pause(
        campaign=Campaign.objects.get(pk=campaign.pk), reason="checking numbers", actor=OPERATOR
    )
    send_batch.delay(campaign.pk)
    assert live_sandbox.state()["accepted"]["total"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk), actor=OPERATOR)
    status = campaign_status(campaign=Campaign.objects.get(pk=campaign.pk))
    assert status["counts"]["accepted"] == 40
    assert status["state"] == "completed"


def test_cancel_skips_what_was_not_sent(live_sandbox) -> None:
    from campaigns.freeze import campaign_freeze

    campaign = campaign_create(name="c", channel="sms", lists=[make_audience(5)], text="Hi")
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    campaign_freeze(campaign=campaign)
    campaign = campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk), actor=OPERATOR)
    assert campaign.counts["skipped"] == 5
    assert set(Message.objects.values_list("reason", flat=True)) == {"cancelled by an operator"}


def test_quiet_hours_defer_messages_instead_of_dropping_them(live_sandbox, monkeypatch) -> None:
    from campaigns.freeze import campaign_freeze
    from campaigns.sending import campaign_send_batch

    now = timezone.now().astimezone(dt.UTC)
    start = (now + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    end = (now + dt.timedelta(hours=3)).time().replace(second=0, microsecond=0)
    audience = make_audience(3, timezone="UTC")
    campaign = campaign_create(
        name="q", channel="sms", lists=[audience], text="Hi", quiet_hours=(start, end)
    )
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    campaign_freeze(campaign=campaign)
    waits = set(Message.objects.values_list("not_before", flat=True))
    assert len(waits) == 1
    (wait,) = waits
    assert wait.time().replace(second=0) == start
    assert campaign_send_batch(campaign_id=campaign.pk).claimed == 0
    # The window opens: at send the clock is inside it (quiet hours are checked again there).
    later = wait + dt.timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert campaign_send_batch(campaign_id=campaign.pk).accepted == 3


def test_test_send_renders_for_a_contact_outside_the_ledger(live_sandbox) -> None:
    audience = make_audience(1)
    campaign = campaign_create(name="t", channel="sms", lists=[audience], text="Hi {{first_name}}")
    result = campaign_test_send(
        campaign=campaign, contact=Contact.objects.get(), to="+447700900123"
    )
    (sent,) = result.messages
    assert sent.to == "447700900123"
    assert Message.objects.count() == 0
    with pytest.raises(CampaignError, match="not a phone number"):
        campaign_test_send(campaign=campaign, contact=Contact.objects.get(), to="call me")


def test_sweep_restarts_a_campaign_whose_freeze_died(
    live_sandbox, django_capture_on_commit_callbacks
) -> None:
    from campaigns.tasks import campaign_restart_unfrozen

    campaign = campaign_create(name="died", channel="sms", lists=[make_audience(7)], text="Hi")
    # What a worker killed mid-freeze leaves behind: launched, running, no ledger.
    launched = timezone.now() - dt.timedelta(minutes=5)
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=launched)
    fresh = campaign_create(
        name="fresh",
        channel="sms",
        lists=[make_audience(1, name="b", prefix="+4479470")],
        text="Hi",
    )
    Campaign.objects.filter(pk=fresh.pk).update(state="running", launched_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert campaign_restart_unfrozen() == [campaign.pk]  # the fresh one may still be freezing
    campaign.refresh_from_db()
    assert (campaign.recipients, campaign.count_accepted, campaign.state) == (7, 7, "completed")
    assert campaign_restart_unfrozen() == []
