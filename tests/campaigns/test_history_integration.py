"""The retention sweep with a real beat and a real worker: a campaign finished longer ago than
HERALD_HISTORY_RETENTION_DAYS leaves the live tables for its history file, a recent one stays.

The session worker has archiving off (the default); this test starts its own worker and beat
with the setting on, a one-second sweep and its own history directory.
"""

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Message, MessageEvent
from tests.campaigns.test_history import _finished
from tests.fixtures.beat import BeatProcess
from tests.fixtures.worker import WorkerProcess, wait_for

pytestmark = pytest.mark.integration


def test_beat_archives_a_campaign_past_the_retention_and_keeps_a_recent_one(
    integration_env, transactional_db, tmp_path
) -> None:
    from config.celery import app

    old = _finished()
    recent = _finished(offset=10)
    Campaign.objects.filter(pk=recent.pk).update(finished_at=timezone.now() - dt.timedelta(days=2))
    history = tmp_path / "history"
    env = {
        **integration_env,
        "HERALD_HISTORY_RETENTION_DAYS": "30",
        "HERALD_HISTORY_DIR": str(history),
        "HERALD_HISTORY_SWEEP_INTERVAL": "1",
    }
    app.control.purge()
    worker = WorkerProcess(env, tmp_path / "worker.log")
    worker.start()
    beat = BeatProcess(env, tmp_path)
    try:
        beat.start()
        archived = wait_for(
            lambda: Campaign.objects.filter(pk=old.pk, history_archived_at__isnull=False).first(),
            timeout=60,
            message=f"the sweep did not archive the old campaign:\n{worker.tail()}",
        )
    finally:
        beat.stop()
        worker.stop()
        app.control.purge()
    assert Path(archived.history_archive) == history / f"campaign-{old.pk}.jsonl.gz"
    assert Path(archived.history_archive).stat().st_size > 0
    assert (archived.history_archive_messages, archived.history_archive_events) == (4, 3)
    assert not Message.objects.filter(campaign=old).exists()
    assert Message.objects.filter(campaign=recent).count() == 4
    assert MessageEvent.objects.filter(message__campaign=recent).count() == 3
    assert Campaign.objects.get(pk=recent.pk).history_archived_at is None
