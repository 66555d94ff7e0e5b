"""Waking the engine and the send step's chain: at once, one queued task however many wakes.

Trigger → first send at a sustained rate is judged by these: a wake-up is enqueued at once (no
countdown), a storm of them queues one task per journey (or send step campaign), the task
takes the wake-up before it reads, and a chain never re-queues past the one pending task.
"""

import json

import psycopg
import pytest
import responses
from django.core.cache import cache
from django.db import connection

from campaigns.models import Message
from campaigns.sending import campaign_send_batch
from journeys import tasks, wake
from journeys.events import events_record
from journeys.models import JourneyEntry
from tests.factories import ContactFactory
from tests.fixtures.provider import BASE_URL

pytestmark = pytest.mark.django_db

FIRST_SEND = {
    "name": "Welcome",
    "trigger": {"type": "event", "event": "signed_up"},
    "reentry": "always",
    "caps": "exempt",
    "steps": [
        {"id": "hello", "type": "send", "channel": "sms", "text": "Welcome {{first_name}}"},
        {"id": "done", "type": "exit"},
    ],
}


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """A broker, as far as the wake-ups can tell: `advance` recorded, not run."""
    calls: list[int] = []
    monkeypatch.setattr(wake, "eager", lambda: False)
    monkeypatch.setattr(tasks.advance, "delay", calls.append)
    monkeypatch.setattr(
        tasks.advance, "apply_async", lambda *a, **kw: pytest.fail(f"a countdown: {kw}")
    )
    cache.clear()
    return calls


def test_a_storm_of_wakes_queues_one_task_at_once_and_the_task_takes_it(queued) -> None:
    for _ in range(50):
        wake.journey_wake_now(7)
    wake.journey_wake_now(8)  # another journey has its own
    assert queued == [7, 8]
    # The task takes the wake-up before it reads due entries: the next wake queues again.
    wake.journey_wake_taken(7)
    assert wake.journey_wake_now(7) is True
    assert wake.journey_wake_now(7) is False
    assert queued == [7, 8, 7]


def test_events_committed_one_by_one_queue_one_engine_task(
    queued, live_journey, django_capture_on_commit_callbacks
) -> None:
    journey = live_journey(dict(FIRST_SEND))
    for i in range(20):
        with django_capture_on_commit_callbacks(execute=True):
            events_record(
                events=[{"name": "signed_up", "contact": {"phone": f"+4479460001{i:02d}"}}]
            )
    assert JourneyEntry.objects.filter(journey=journey).count() == 20
    assert queued == [journey.pk]


def test_a_chain_with_a_backlog_wakes_one_more_and_never_piles_up(
    queued, live_journey, settings, monkeypatch
) -> None:
    settings.HERALD_JOURNEY_BATCH = 2
    monkeypatch.setattr(tasks, "SLICE_SECONDS", 0.0)  # one batch per slice: the rest is "more"
    journey = live_journey(dict(FIRST_SEND))
    events_record(
        events=[
            {"name": "signed_up", "contact": {"phone": f"+4479460002{i:02d}"}} for i in range(5)
        ]
    )
    # The task's own wake-up is pending while it runs (as when the broker delivered it).
    assert wake.journey_wake_now(journey.pk)
    queued.clear()
    tasks.advance(journey.pk)
    sent = Message.objects.filter(campaign__journey_step__version__journey=journey).count()
    assert sent == 2  # one full batch, then the slice ended
    # A full batch woke a chain for the other slot; the slice's end found it still queued.
    assert queued == [journey.pk]
    tasks.advance(journey.pk)  # that task: it takes the wake-up, then wakes the next
    assert queued == [journey.pk, journey.pk]
    assert Message.objects.filter(campaign__journey_step__version__journey=journey).count() == 4


def test_a_task_that_finds_every_slot_held_leaves_the_entries_to_their_holders(
    queued, live_journey, settings
) -> None:
    journey = live_journey(dict(FIRST_SEND))
    events_record(events=[{"name": "signed_up", "contact": {"phone": "+447946000300"}}])
    # Another worker's chains hold both slots (session locks on a connection of their own).
    db = connection.settings_dict
    params = {
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
        "host": db["HOST"],
        "port": db["PORT"] or None,
    }
    with psycopg.connect(**params, autocommit=True) as other:
        for slot in range(settings.HERALD_JOURNEY_CHAINS):
            other.execute(
                "SELECT pg_advisory_lock(%s, %s)", [tasks.CHAIN_LOCK, journey.pk * 16 + slot]
            )
        tasks.advance(journey.pk)
    assert JourneyEntry.objects.get(journey=journey).step == "hello"  # not taken here
    assert queued == []  # the holders look again after releasing: no task piles up


def test_a_send_steps_new_rows_wake_one_send_batch_and_its_chain_ends_with_them(
    queued, live_journey, clock, provider_mocked, settings, monkeypatch
) -> None:
    from campaigns import open_ledger
    from campaigns import tasks as campaign_tasks

    settings.HERALD_COUNTRY_QUIET_HOURS = False
    sends: list[int] = []
    monkeypatch.setattr(campaign_tasks.send_batch, "delay", sends.append)
    monkeypatch.setattr(campaign_tasks.send_batch, "apply_async", lambda *a, **kw: sends.append(-1))
    monkeypatch.setattr(open_ledger, "_eager", lambda: False)

    def accept(request):
        body = json.loads(request.body)
        answers = [
            {
                "messageId": d["messageId"],
                "destination": d["to"],
                "status": {
                    "groupId": 1,
                    "groupName": "PENDING",
                    "id": 26,
                    "name": "PENDING_ACCEPTED",
                    "description": "sent",
                },
            }
            for m in body["messages"]
            for d in m["destinations"]
        ]
        return 200, {}, json.dumps({"bulkId": "b", "messages": answers})

    provider_mocked.add_callback(responses.POST, BASE_URL + "/sms/3/messages", callback=accept)
    journey = live_journey(dict(FIRST_SEND))
    for i in range(3):
        ContactFactory(phone=f"+4479460004{i:02d}")
    events_record(
        events=[
            {"name": "signed_up", "contact": {"phone": f"+4479460004{i:02d}"}} for i in range(3)
        ],
        now=clock.now,
    )
    clock.run(journey)
    campaign_id = Message.objects.filter(campaign__journey_step__version__journey=journey)[
        0
    ].campaign_id
    for _ in range(10):  # ten engine batches' commits
        open_ledger.open_ledger_wake(campaign_id=campaign_id)
    assert sends == [campaign_id]
    campaign_tasks.send_batch(campaign_id)  # takes the wake-up, claims and sends the three
    assert Message.objects.filter(campaign_id=campaign_id, state="accepted").count() == 3
    # Less than a batch was due: no empty link follows (new rows wake a chain of their own) …
    assert sends == [campaign_id]
    assert campaign_send_batch(campaign_id=campaign_id).more is False
    # … and the wake-up was taken, so the next rows' commit queues again.
    assert open_ledger.open_ledger_wake(campaign_id=campaign_id) is True
    assert sends == [campaign_id, campaign_id]
