"""The pull sweeper against the sandbox: pulled reports, settled rows, give-ups, the lag figure."""

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.models import Campaign, Message, MessageEvent, SendBatch
from campaigns.outcomes import reports_apply
from campaigns.reconcile import SettleResult, messages_settle
from campaigns.reports import messages_give_up, reports_reconcile
from campaigns.sending import campaign_send_batch
from channels.registry import messages_api_pulls
from infobip.client import get_client
from infobip.models import EventStatus, ReportHealth, WebhookEvent
from infobip.processing import events_reprocess
from infobip.types import DeliveryReport, SmsMessage
from tests.infobip.webhooks.conftest import counts, make_ledger, report

pytestmark = pytest.mark.django_db

MIXED = {"delivered": 0.55, "undeliverable": 0.2, "expired": 0.15, "rejected": 0.1}


@pytest.fixture
def live(sandbox, settings):
    """The settings client on the sandbox; reports only reachable by pulling."""
    settings.INFOBIP_SANDBOX_URL, settings.INFOBIP_SANDBOX_API_KEY = sandbox.url, sandbox.api_key
    settings.HERALD_BATCH_SIZE = 50
    sandbox.configure(outcomes=MIXED)
    return sandbox


def _send_all(campaign: Campaign) -> None:
    while campaign_send_batch(campaign_id=campaign.pk).claimed:
        pass


def _assert_matches_sandbox(messages, sandbox) -> None:
    states = dict(
        Message.objects.filter(id__in=[m.pk for m in messages]).values_list("id", "state")
    )
    for message in messages:
        assert states[message.pk] == sandbox.truth(str(message.message_id))["outcome"]


def test_reports_never_pushed_are_pulled_stored_and_applied(live) -> None:
    sms_campaign, sms_rows = make_ledger(60, state="queued", text="Hi", sender="Herald")
    wa_campaign, wa_rows = make_ledger(
        20,
        state="queued",
        channel="whatsapp",
        prefix="+4479461",
        text="Hi",
        campaign_state="running",
    )
    Campaign.objects.filter(pk=wa_campaign.pk).update(channel="whatsapp_text")
    _send_all(sms_campaign)
    _send_all(wa_campaign)
    assert live.flush() == 0  # reports are due; their pushes go nowhere (testserver)

    result = reports_reconcile()
    assert (result.pulled_sms, result.pulled_whatsapp) == (60, 20)
    assert result.errors == []
    _assert_matches_sandbox(sms_rows + wa_rows, live)
    assert sum(counts(sms_campaign).values()) == 60
    assert "accepted" not in counts(sms_campaign)
    pulled = WebhookEvent.objects.filter(kind__in=["pull_sms", "pull_whatsapp"])
    assert sorted(pulled.values_list("kind", "items")) == [("pull_sms", 60), ("pull_whatsapp", 20)]
    assert set(pulled.values_list("status", flat=True)) == {EventStatus.PROCESSED}
    # Each report is returned once: the next run pulls nothing and changes nothing.
    again = reports_reconcile()
    assert (again.pulled_sms, again.pulled_whatsapp) == (0, 0)
    assert ReportHealth.objects.count() == 2


def test_a_pulled_page_is_stored_before_it_is_applied(live, swap_receiver) -> None:
    campaign, rows = make_ledger(10, state="queued", text="Hi", sender="Herald")
    _send_all(campaign)
    live.flush()

    def crash(**kwargs):
        raise RuntimeError("worker bug while applying")

    swap_receiver("reports", crash)
    assert reports_reconcile().pulled_sms == 10
    event = WebhookEvent.objects.get(kind="pull_sms")
    # Each report was tried alone and none applied: the page is kept with the reason.
    assert event.status == EventStatus.PROCESSED
    assert "10 items skipped" in event.error
    assert "worker bug" in event.error
    assert counts(campaign) == {"accepted": 10}
    swap_receiver("reports", reports_apply)
    # Infobip will not return those reports again; the stored page is replayed instead.
    assert events_reprocess(event_ids=[event.pk]).events == 1
    _assert_matches_sandbox(rows, live)


def test_rows_stuck_in_sending_are_settled_from_the_logs(live, settings) -> None:
    settings.HERALD_SETTLE_AFTER = 60
    campaign, rows = make_ledger(5, state="sending")
    old = timezone.now() - dt.timedelta(minutes=5)
    Message.objects.filter(campaign=campaign).update(claimed_at=old)
    # The worker sent them, then died before recording Infobip's answer.
    get_client().send_sms(
        [SmsMessage(to=m.phone[1:], text="Hi", message_id=str(m.message_id)) for m in rows]
    )
    live.flush()
    get_client().get_sms_reports()  # the reports went elsewhere: only the logs know
    result = reports_reconcile(campaign_id=campaign.pk)
    assert result.settled == 5
    _assert_matches_sandbox(rows, live)


def _claim_all(campaign: Campaign) -> list:
    from campaigns.ledger import messages_claim

    return messages_claim(campaign_id=campaign.pk, limit=1000)


def _age_batches(campaign: Campaign, seconds: float) -> None:
    SendBatch.objects.filter(campaign=campaign).update(
        claimed_at=timezone.now() - dt.timedelta(seconds=seconds)
    )


def test_a_batch_whose_sender_died_after_sending_is_settled_from_the_logs(live, settings) -> None:
    settings.HERALD_SETTLE_AFTER = 60
    duplicates = live.state()["duplicates"]["messageId"]
    campaign, rows = make_ledger(5, state="queued", text="Hi", sender="Herald")
    claimed = _claim_all(campaign)
    # The worker sent them, then died before recording Infobip's answer.
    get_client().send_sms(
        [SmsMessage(to=m.phone[1:], text="Hi", message_id=m.message_id) for m in claimed]
    )
    live.flush()
    get_client().get_sms_reports()  # the reports went elsewhere: only the logs know
    _age_batches(campaign, 300)
    result = reports_reconcile(campaign_id=campaign.pk)
    assert result.settled == 5
    _assert_matches_sandbox(rows, live)
    batch = SendBatch.objects.get(campaign=campaign)
    assert (batch.state, batch.ids) == ("sent", [])
    # Nothing left to claim: no message goes twice.
    assert campaign_send_batch(campaign_id=campaign.pk).claimed == 0
    assert live.state()["duplicates"]["messageId"] == duplicates


def test_a_batch_never_sent_waits_then_is_released_and_sent_once(live, settings) -> None:
    settings.HERALD_SETTLE_AFTER, settings.HERALD_REQUEUE_AFTER = 60, 600
    duplicates = live.state()["duplicates"]["messageId"]
    campaign, rows = make_ledger(4, state="queued", text="Hi", sender="Herald")
    claimed = _claim_all(campaign)  # … and the worker died before its request
    _age_batches(campaign, 30)
    assert messages_settle() == SettleResult()  # not stale yet
    _age_batches(campaign, 300)
    assert messages_settle() == SettleResult(waiting=4)  # the logs may not show them yet
    assert campaign_send_batch(campaign_id=campaign.pk).claimed == 0  # still held
    _age_batches(campaign, 900)
    assert messages_settle() == SettleResult(requeued=4)
    batch = SendBatch.objects.get(pk=claimed[0].batch_id)
    assert batch.state == "released"
    assert "not in Infobip's logs" in batch.reason
    assert counts(campaign) == {"queued": 4}
    _send_all(campaign)
    assert counts(campaign) == {"accepted": 4}
    assert all(live.truth(str(m.message_id)) for m in rows)  # each one sent, and once:
    assert live.state()["duplicates"]["messageId"] == duplicates


def test_a_batch_its_sender_recorded_is_not_settled_again(live, settings) -> None:
    # The slow sender's answer took the ids out of the batch first: the settler has nothing.
    settings.HERALD_SETTLE_AFTER = 60
    campaign, rows = make_ledger(3, state="queued", text="Hi", sender="Herald")
    _send_all(campaign)
    _age_batches(campaign, 3600)
    assert messages_settle(message_ids=[m.pk for m in rows]) == SettleResult()
    assert counts(campaign) == {"accepted": 3}


def test_a_whatsapp_batch_waits_for_its_reports_then_fails_after_48_hours(settings) -> None:
    settings.HERALD_SETTLE_AFTER = 60
    campaign, _rows = make_ledger(2, state="queued", channel="whatsapp")
    _claim_all(campaign)
    _age_batches(campaign, 3600)
    assert messages_settle() == SettleResult(waiting=2)
    assert counts(campaign) == {"queued": 2}
    _age_batches(campaign, 49 * 3600)
    assert messages_settle() == SettleResult(expired=2)
    assert counts(campaign) == {"failed": 2}
    assert SendBatch.objects.get(campaign=campaign).state == "sent"


def test_silent_accepted_sms_are_looked_up_in_the_logs_once_per_checkpoint(live) -> None:
    campaign, rows = make_ledger(8, state="queued", text="Hi", sender="Herald")
    _send_all(campaign)
    live.flush()
    assert len(get_client().get_sms_reports()) == 8  # pushes and pulls lost
    now = timezone.now()
    ReportHealth.objects.create(measured_at=now - dt.timedelta(minutes=5))
    Message.objects.filter(campaign=campaign).update(claimed_at=now - dt.timedelta(minutes=62))
    result = reports_reconcile(now=now)
    assert result.log_checked == 8
    _assert_matches_sandbox(rows, live)
    # Rows outside every checkpoint window are not looked up. Their reports are held back, so
    # that a pull (which may legitimately find them once due) cannot settle them either: on a
    # loaded machine the sandbox's 50 ms report delay passes before the next reconcile.
    live.configure(push_delay=3600)
    campaign2, _ = make_ledger(3, state="queued", text="Hi", sender="Herald", prefix="+4479462")
    _send_all(campaign2)
    Message.objects.filter(campaign=campaign2).update(claimed_at=now - dt.timedelta(hours=3))
    assert reports_reconcile(now=now + dt.timedelta(seconds=1)).log_checked == 0
    assert counts(campaign2) == {"accepted": 3}


def test_messages_without_a_final_report_expire_after_the_validity(settings) -> None:
    now = timezone.now()
    campaign, rows = make_ledger(4)
    Message.objects.filter(pk__in=[rows[0].pk, rows[1].pk]).update(
        claimed_at=now - dt.timedelta(hours=50)
    )
    assert messages_give_up(now=now) == 2
    assert counts(campaign) == {"expired": 2, "accepted": 2}
    expired = Message.objects.get(pk=rows[0].pk)
    assert (expired.status_name, expired.done_at) == ("NO_FINAL_REPORT", now)
    assert "within 49 h" in expired.reason
    # A real report arriving even later is recorded, but the final state stays.
    reports_apply(items=[((0, 0), DeliveryReport.from_dict(report(str(expired.message_id))))])
    expired.refresh_from_db()
    assert expired.state == "expired"
    assert MessageEvent.objects.filter(message=expired, kind="report").count() == 1
    assert messages_give_up(now=now) == 0


def test_a_silent_whatsapp_message_that_expires_gets_its_failover() -> None:
    now = timezone.now()
    _campaign, (row,) = make_ledger(
        1,
        channel="whatsapp",
        campaign_state="paused",
        failover_mode="herald",
        failover_text="Hello by SMS",
    )
    Message.objects.filter(pk=row.pk).update(claimed_at=now - dt.timedelta(hours=50))
    assert messages_give_up(now=now) == 1
    assert Message.objects.get(replaces=row).state == "queued"


def test_the_lag_figure_shows_when_pushes_stop(settings) -> None:
    now = timezone.now()
    campaign, _rows = make_ledger(3)
    Message.objects.filter(campaign=campaign).update(claimed_at=now - dt.timedelta(hours=2))
    WebhookEvent.objects.create(
        kind="sms_reports", body="{}", content_hash="x", received_at=now - dt.timedelta(minutes=90)
    )
    from campaigns.reports import report_health

    health = report_health(now=now)
    assert health["missing_reports"] == 3
    assert health["lag_seconds"] == 90 * 60
    assert health["oldest_missing_at"] == (now - dt.timedelta(hours=2)).isoformat()
    Message.objects.filter(campaign=campaign).update(state="delivered")
    health = report_health(now=now)
    assert (health["missing_reports"], health["lag_seconds"]) == (0, None)


def test_the_command_prints_a_summary_and_json(live, capsys) -> None:
    campaign, _ = make_ledger(2, state="queued", text="Hi", sender="Herald")
    _send_all(campaign)
    live.flush()
    call_command("reconcile_reports")
    line = capsys.readouterr().out.strip()
    assert line.startswith("pulled=2 (sms=2 whatsapp=0) ")
    assert "missing_reports=0" in line
    call_command("reconcile_reports", "--campaign", str(campaign.pk), "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["pulled_sms"] == 0
    assert data["health"]["missing_reports"] == 0
    assert "lag_seconds" in data["health"]


def test_the_command_refuses_bad_input_and_reports_an_unreachable_infobip(settings, capsys):
    with pytest.raises(CommandError, match="campaign 999999 does not exist"):
        call_command("reconcile_reports", "--campaign", "999999")
    settings.INFOBIP_SANDBOX_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.INFOBIP_MAX_RETRIES = 0
    with pytest.raises(CommandError, match="Infobip could not be asked"):
        call_command("reconcile_reports")
    # One error per pull: SMS, then each Messages API channel of the registry.
    assert f"errors={1 + len(messages_api_pulls())}" in capsys.readouterr().out
