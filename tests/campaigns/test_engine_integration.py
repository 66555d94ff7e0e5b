"""The engine on PostgreSQL with a real worker on Redis, against the sandbox.

The worker is a separate process group (tests/fixtures/worker.py): these tests can SIGKILL it
mid-batch and restart it, and the sandbox counts every duplicate by messageId and by
(number, campaign).
"""

import time

import pytest

from campaigns.models import Campaign, Message
from campaigns.services import campaign_create, campaign_launch, campaign_status
from campaigns.tasks import send_batch, sweep
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


def _run(name: str, n: int, sandbox, worker, **kwargs) -> Campaign:
    audience = make_audience(n, name=name)
    campaign = campaign_create(
        name=name, channel="sms", lists=[audience], text="Hi {{first_name}}", **kwargs
    )
    campaign_launch(campaign=campaign)
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
    sandbox.configure(
        rate_429=0.3,
        retry_after_share=0.5,
        retry_after_seconds=1,
        rate_5xx=0.1,
        drop_after_read=0.05,
    )
    campaign = _run("storm", 800, sandbox, worker)

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
    sandbox.configure(drop_after_read=1.0)
    campaign = _run("drop", 300, sandbox, worker)
    wait_for(lambda: sandbox.state()["accepted"]["total"] == 300, timeout=60, message=worker.tail())
    sandbox.configure(drop_after_read=0.0)
    assert Campaign.objects.get(pk=campaign.pk).count_sending > 0

    def settled():
        sweep.delay()
        return _all_handed(campaign.pk)

    wait_for(settled, timeout=120, interval=1.0, message=worker.tail())
    _assert_exactly_once(campaign, sandbox, 300)
    assert sandbox.state()["faults"]["dropped"] >= 3
