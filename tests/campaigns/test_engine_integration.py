"""The engine on PostgreSQL with a real worker on Redis, against the sandbox.

The worker is a separate process group (tests/fixtures/worker.py): these tests can SIGKILL it
mid-batch and restart it, and the sandbox counts every duplicate by messageId and by
(number, campaign).
"""

import time

import pytest

from campaigns.ledger import messages_in_flight
from campaigns.models import Campaign, Message
from campaigns.services import campaign_create, campaign_launch, campaign_status
from campaigns.tasks import send_batch, sweep
from core.rules import OPERATOR
from tests.campaigns.conftest import make_audience
from tests.fixtures.worker import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(celery_worker, sandbox, engine_settings):
    """A real worker, a clean sandbox, and this process's settings matched to the worker's."""
    return celery_worker, sandbox


def _all_handed(campaign_id: int):
    campaign = Campaign.objects.get(pk=campaign_id)
    frozen = campaign.frozen_at is not None
    return (
        campaign if frozen and campaign.count_queued == 0 and campaign.count_sending == 0 else None
    )


def _run(name: str, n: int, sandbox, worker, prefix: str = "+4479460", **kwargs) -> Campaign:
    audience = make_audience(n, name=name, prefix=prefix)
    campaign = campaign_create(
        name=name, channel="sms", lists=[audience], text="Hi {{first_name}}", **kwargs
    )
    campaign_launch(campaign=campaign, actor=OPERATOR)
    return campaign


def _assert_exactly_once(campaign: Campaign, sandbox, n: int) -> None:
    state = sandbox.state()
    assert state["accepted"]["total"] == n
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    status = campaign_status(campaign=campaign)
    assert status["recipients"] == n
    assert sum(status["counts"].values()) == n
    assert status["counts"]["queued"] == status["counts"]["sending"] == 0
    assert Message.objects.filter(campaign=campaign).count() == n


def test_a_few_thousand_recipients_complete_with_the_right_counts(engine) -> None:
    worker, sandbox = engine
    campaign = _run("big", 3000, sandbox, worker)
    wait_for(lambda: _all_handed(campaign.pk), timeout=120, message=worker.tail())
    wait_for(
        lambda: Campaign.objects.get(pk=campaign.pk).state == "completed",
        timeout=30,
        message=worker.tail(),
    )
    _assert_exactly_once(campaign, sandbox, 3000)


def test_duplicated_batch_tasks_send_nothing_twice(engine) -> None:
    worker, sandbox = engine
    campaign = _run("dup", 500, sandbox, worker)
    for _ in range(10):
        send_batch.delay(campaign.pk)
    wait_for(lambda: _all_handed(campaign.pk), timeout=60, message=worker.tail())
    _assert_exactly_once(campaign, sandbox, 500)


def test_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(engine) -> None:
    worker, sandbox = engine
    # Slow answers make the kill land while requests are in flight.
    sandbox.configure(slow_rate=1.0, slow_ms=150)
    campaign = _run("kill", 1500, sandbox, worker)
    for _ in range(3):
        wait_for(
            lambda: sandbox.state()["accepted"]["total"] > 0, timeout=30, message=worker.tail()
        )
        time.sleep(0.3)
        worker.kill()
        worker.start()
    sandbox.configure(slow_ms=0)

    def settled():
        sweep.delay()  # what beat does: settle stuck rows from the logs, restart stalled chains
        return _all_handed(campaign.pk)

    wait_for(settled, timeout=120, interval=1.0, message=worker.tail())
    _assert_exactly_once(campaign, sandbox, 1500)


def test_429_and_5xx_storms_end_with_everyone_sent_once(engine) -> None:
    worker, sandbox = engine
    # Each kind of fault first for certain (at these rates over ~20 requests a run without one
    # happened in CI), then the storm of all of them at once.
    sandbox.configure(rate_5xx=1.0)
    campaign = _run("storm", 800, sandbox, worker)
    wait_for(lambda: sandbox.state()["faults"]["5xx"] > 0, timeout=30, message=worker.tail())
    sandbox.configure(rate_5xx=0.0, rate_429=1.0, retry_after_share=0.5, retry_after_seconds=1)
    wait_for(lambda: sandbox.state()["faults"]["429"] > 0, timeout=30, message=worker.tail())
    sandbox.configure(rate_429=0.35, rate_5xx=0.25, drop_after_read=0.05)

    def done():
        sweep.delay()
        return _all_handed(campaign.pk)

    wait_for(done, timeout=180, interval=1.0, message=worker.tail())
    sandbox.configure(rate_429=0.0, rate_5xx=0.0, drop_after_read=0.0)
    _assert_exactly_once(campaign, sandbox, 800)
    state = sandbox.state()
    assert state["faults"]["429"] > 0
    assert state["faults"]["5xx"] > 0


def test_unknown_outcomes_are_settled_from_the_logs_never_resent(engine) -> None:
    worker, sandbox = engine
    # Every request is read and recorded, then the connection drops: Herald cannot know.
    # Reports are held back (they would settle the rows too, racing the check below): only
    # the logs can tell Herald what happened.
    sandbox.configure(drop_after_read=1.0, push_delay=600)
    campaign = _run("drop", 300, sandbox, worker)
    wait_for(lambda: sandbox.state()["accepted"]["total"] == 300, timeout=60, message=worker.tail())
    sandbox.configure(drop_after_read=0.0)
    # Held by their batches (queued in the ledger) until the logs settle them.
    assert messages_in_flight(campaign_id=campaign.pk) > 0

    def settled():
        sweep.delay()
        return _all_handed(campaign.pk)

    wait_for(settled, timeout=120, interval=1.0, message=worker.tail())
    _assert_exactly_once(campaign, sandbox, 300)
    assert sandbox.state()["faults"]["dropped"] >= 3


def test_pause_holds_batches_and_resume_finishes(engine) -> None:
    from campaigns.services import campaign_pause, campaign_resume

    worker, sandbox = engine
    sandbox.configure(slow_ms=200)
    campaign = _run("pause", 1000, sandbox, worker)
    wait_for(lambda: sandbox.state()["accepted"]["total"] > 0, timeout=60, message=worker.tail())
    campaign = campaign_pause(
        campaign=Campaign.objects.get(pk=campaign.pk), reason="hold on", actor=OPERATOR
    )
    time.sleep(1.5)  # batches already claimed finish; no new ones start
    held = sandbox.state()["accepted"]["total"]
    time.sleep(1.5)
    assert sandbox.state()["accepted"]["total"] == held < 1000
    sandbox.configure(slow_ms=0)
    campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk), actor=OPERATOR)
    wait_for(lambda: _all_handed(campaign.pk), timeout=120, message=worker.tail())
    _assert_exactly_once(campaign, sandbox, 1000)


def test_cancel_mid_run_skips_the_rest(engine) -> None:
    from campaigns.services import campaign_cancel

    worker, sandbox = engine
    sandbox.configure(slow_ms=200)
    campaign = _run("cancel", 1000, sandbox, worker)
    wait_for(lambda: sandbox.state()["accepted"]["total"] > 0, timeout=60, message=worker.tail())
    campaign_cancel(campaign=Campaign.objects.get(pk=campaign.pk), actor=OPERATOR)
    # Batches in flight at the cancel finish (their rows are sent, not skipped).
    wait_for(lambda: messages_in_flight(campaign_id=campaign.pk) == 0, timeout=60)
    campaign = Campaign.objects.get(pk=campaign.pk)
    sent = sandbox.state()["accepted"]["total"]
    assert campaign.count_skipped == 1000 - sent > 0
    assert campaign.state == "cancelled"


def test_quiet_hours_and_schedule_are_honoured_by_the_worker(engine) -> None:
    import datetime as dt

    from django.utils import timezone

    worker, sandbox = engine
    now = timezone.now().astimezone(dt.UTC)
    closed = ((now + dt.timedelta(hours=2)).time(), (now + dt.timedelta(hours=3)).time())
    quiet = _run("quiet", 50, sandbox, worker, quiet_hours=closed)
    later = _run(
        "later", 50, sandbox, worker, prefix="+4479461", send_at=now + dt.timedelta(seconds=2)
    )
    assert Campaign.objects.get(pk=later.pk).state == "scheduled"
    wait_for(lambda: Campaign.objects.get(pk=quiet.pk).frozen_at, timeout=30)

    def started():
        sweep.delay()  # beat's job: start due campaigns
        return _all_handed(later.pk)

    wait_for(started, timeout=60, interval=1.0, message=worker.tail())
    quiet = Campaign.objects.get(pk=quiet.pk)
    assert (quiet.count_queued, quiet.state) == (50, "running")
    assert sandbox.state()["accepted"]["total"] == 50  # only the scheduled campaign's
    # The window opens: quiet hours are checked again at send, so the clock must really be
    # inside the window (a wide one, whatever the recipients' zone), not only `not_before`.
    opened = ((now - dt.timedelta(hours=4)).time(), (now + dt.timedelta(hours=4)).time())
    Campaign.objects.filter(pk=quiet.pk).update(
        quiet_hours_start=opened[0], quiet_hours_end=opened[1]
    )
    Message.objects.filter(campaign=quiet).update(not_before=timezone.now())
    wait_for(lambda: (sweep.delay(), _all_handed(quiet.pk))[1], timeout=60, interval=1.0)
    assert sandbox.state()["accepted"]["total"] == 100


def test_whatsapp_failover_through_the_whole_loop(engine) -> None:
    from whatsapp.services import templates_sync

    worker, sandbox = engine
    sandbox.configure(not_on_whatsapp=0.3, outcomes={"delivered": 1.0})
    templates_sync(sender="447860099299")
    from whatsapp.models import WhatsAppTemplate

    template = WhatsAppTemplate.objects.get(name="bienvenida", language="es")
    campaign = campaign_create(
        name="wa",
        channel="whatsapp_template",
        lists=[make_audience(200, name="wa")],
        template=template,
        sender="447860099299",
        template_mapping={"body": [{"source": "field", "value": "first_name", "fallback": None}]},
        failover_mode="herald",
        failover_text="Hi {{first_name}}, by SMS",
    )
    campaign_launch(campaign=campaign, actor=OPERATOR)
    whatsapp = Message.objects.filter(campaign=campaign, channel="whatsapp")

    def done():
        failed = whatsapp.filter(state="undeliverable").count()
        campaign_now = Campaign.objects.get(pk=campaign.pk)
        return failed and campaign_now.failover_delivered == failed

    wait_for(done, timeout=120, interval=0.5, message=worker.tail())
    for message in whatsapp.filter(state="undeliverable"):
        assert sandbox.truth(str(message.message_id))["outcome"] == "undeliverable"
        assert message.failover.get().state == "delivered"
    assert not Message.objects.filter(replaces__state="delivered").exists()
    state = sandbox.state()
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
