"""Events never slow sending: every kind of task has its queue (Celery's own routing)."""

import pytest

from config.celery import app


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("campaigns.tasks.send_batch", "sending"),
        ("campaigns.tasks.campaign_dispatch", "sending"),
        ("campaigns.tasks.campaign_start", "sending"),
        ("campaigns.tasks.settle", "sending"),
        ("infobip.tasks.send_keyword_reply", "sending"),
        ("infobip.tasks.process_events", "receiving"),
        ("infobip.tasks.process_backlog", "receiving"),
        ("api.tasks.subscription_deliver", "events"),
        ("api.tasks.events_deliver_due", "events"),
        ("campaigns.tasks.sweep", "housekeeping"),
        ("infobip.tasks.reconcile_reports", "housekeeping"),
        ("whatsapp.tasks.sync_templates", "housekeeping"),
        ("ui.tasks.run_import", "housekeeping"),
        ("a.task.nobody.routed", "housekeeping"),  # the default: a queue some worker takes
    ],
)
def test_each_task_goes_to_its_queue(task: str, queue: str) -> None:
    route = app.amqp.router.route({}, task)
    assert route["queue"].name == queue


def test_a_worker_without_q_takes_every_queue() -> None:
    """`make run` and the tests run one worker with no -Q: it must consume all four."""
    assert set(app.amqp.queues) == {"sending", "receiving", "events", "housekeeping"}


def test_beat_sends_a_heartbeat_to_every_queue(settings) -> None:
    beats = {
        entry["options"]["queue"]
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "core.tasks.heartbeat"
    }
    assert beats == set(settings.HERALD_QUEUES)
