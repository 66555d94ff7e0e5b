"""The wake-up flag on a real Redis: one processing task per burst of pushes, none lost."""

import pytest
import redis
from django.conf import settings

from campaigns.models import Message
from infobip import tasks, wakeup
from infobip.models import EventStatus, WebhookEvent
from tests.fixtures.worker import require_real_engines
from tests.infobip.webhooks.conftest import counts, make_ledger, report

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def enqueued(monkeypatch) -> list[list[int]]:
    """Real Redis for the flag; the Celery enqueue itself recorded instead of sent."""
    require_real_engines()
    wakeup._client.cache_clear()
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(wakeup.KEY)
    calls: list[list[int]] = []
    monkeypatch.setattr(tasks.process_events, "delay", calls.append)
    yield calls
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(wakeup.KEY)


def _push(post, messages: list[Message]) -> None:
    response = post("sms/reports", {"results": [report(str(m.message_id)) for m in messages]})
    assert response.status_code == 200


def test_a_burst_enqueues_one_task_that_takes_every_waiting_push(post, enqueued, settings):
    settings.HERALD_WEBHOOK_BATCH_EVENTS = 2  # several rounds for one task
    campaign, messages = make_ledger(10)
    for i in range(5):
        _push(post, messages[2 * i : 2 * i + 2])
    assert len(enqueued) == 1  # the first push; the other four found the wake-up pending
    assert WebhookEvent.objects.filter(status=EventStatus.RECEIVED).count() == 5
    tasks.process_events(enqueued[0])
    assert not WebhookEvent.objects.filter(status=EventStatus.RECEIVED).exists()
    assert counts(campaign) == {"delivered": 10}
    # The task cleared the flag: the next push enqueues again.
    _push(post, messages[:1])
    assert len(enqueued) == 2


def test_a_lost_wake_up_expires(post, enqueued):
    _, messages = make_ledger(2)
    _push(post, messages[:1])
    ttl = redis.Redis.from_url(settings.CELERY_BROKER_URL).ttl(wakeup.KEY)
    assert 0 < ttl <= wakeup.TTL
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(wakeup.KEY)  # as if it expired
    _push(post, messages[1:])
    assert len(enqueued) == 2
