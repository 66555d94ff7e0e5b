"""The freeze in committed chunks: one row per contact, counters per chunk, resume, cancel, lock.

`BATCH` is 3 here, so 10 contacts make four chunks (3, 3, 3, 1). The PostgreSQL tests (COPY,
the advisory lock, commits seen from another connection) are integration-marked.
"""

import datetime as dt
import threading
from decimal import Decimal
from types import SimpleNamespace

import psycopg
import pytest
from django.db import connections
from django.utils import timezone

from campaigns import freeze, tasks
from campaigns.freeze import FREEZE_LOCK, FreezeResult, campaign_freeze, freeze_in_progress
from campaigns.models import Campaign, Message, MessageEvent
from campaigns.sending import FREEZE_POLL, campaign_send_batch
from campaigns.services import campaign_cancel, campaign_create, campaign_recount
from contacts.models import Contact
from core.rules import OPERATOR
from tests.campaigns.conftest import make_audience
from tests.fixtures import worker

pytestmark = pytest.mark.django_db
PRICE = Decimal("0.0500")


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch, settings) -> None:
    monkeypatch.setattr(freeze, "BATCH", 3)
    settings.HERALD_PRICES = {"currency": "EUR", "sms": {"default": str(PRICE)}}


def _running(n: int = 10, prefix: str = "+4479460") -> Campaign:
    """A running SMS campaign (launched, not frozen) to `n` fresh contacts."""
    audience = make_audience(n, name=prefix, prefix=prefix)
    campaign = campaign_create(name="f", channel="sms", lists=[audience], text="Hi {{first_name}}")
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=timezone.now())
    campaign.refresh_from_db()
    return campaign


def _assert_ledger(campaign: Campaign, *, queued: int, skipped: int, priced: int = -1) -> None:
    """One row per audience contact; counters, estimate (`priced` messages) match the ledger."""
    campaign.refresh_from_db()
    audience = Contact.objects.filter(phone__startswith=campaign.lists.get().name)
    rows = Message.objects.filter(campaign=campaign).order_by("contact_id")
    assert list(rows.values_list("contact_id", flat=True)) == sorted(
        audience.values_list("id", flat=True)
    )
    assert campaign.frozen_at is not None
    counters = (campaign.recipients, campaign.count_queued, campaign.count_skipped)
    assert counters == (queued + skipped, queued, skipped)
    assert campaign.estimated_cost == PRICE * (queued if priced < 0 else priced)
    recount = campaign_recount(campaign=campaign)
    assert (recount["count_queued"], recount["count_skipped"]) == (queued, skipped)


def _chunks_and_first_queued(monkeypatch, peek) -> None:
    campaign = _running(10)
    chunks, seen = [], []
    real = freeze._commit_chunk
    monkeypatch.setattr(
        freeze, "_commit_chunk", lambda c, rows, *a: [chunks.append(len(rows)), real(c, rows, *a)]
    )
    result = campaign_freeze(campaign=campaign, on_first_queued=lambda: seen.append(peek(campaign)))
    assert chunks == [3, 3, 3, 1]
    # Called once, after chunk one is in (counters with it), before the freeze is done.
    assert seen == [(3, 3, None)]
    assert result == FreezeResult(10, 10, 0)
    _assert_ledger(campaign, queued=10, skipped=0)


def test_chunks_give_every_contact_one_row_and_start_sending_once(monkeypatch) -> None:
    def peek(campaign):
        c = Campaign.objects.get(pk=campaign.pk)
        return Message.objects.filter(campaign=campaign).count(), c.recipients, c.frozen_at

    _chunks_and_first_queued(monkeypatch, peek)


def _not_eager(monkeypatch) -> None:
    # Both names: Celery 5.6 reads the settings' own CELERY_… key before the lowercase one.
    conf = tasks.campaign_start.app.conf
    monkeypatch.setitem(conf, "task_always_eager", False)
    monkeypatch.setitem(conf, "CELERY_TASK_ALWAYS_EAGER", False)


def test_the_start_task_dispatches_the_chains_once_after_chunk_one(monkeypatch) -> None:
    campaign, seen = _running(10), []
    _not_eager(monkeypatch)
    dispatch = lambda pk: seen.append((pk, Message.objects.count()))  # noqa: E731
    monkeypatch.setattr(tasks, "campaign_dispatch", SimpleNamespace(delay=dispatch))
    tasks.campaign_start(campaign.pk)
    assert seen == [(campaign.pk, 3)]
    _assert_ledger(campaign, queued=10, skipped=0)


def test_the_first_chunk_is_one_send_batch_so_sending_starts_early(monkeypatch) -> None:
    monkeypatch.setattr(freeze, "FIRST_CHUNK", 2)
    campaign, seen = _running(10), []
    campaign_freeze(campaign=campaign, on_first_queued=lambda: seen.append(Message.objects.count()))
    assert seen == [2]
    _assert_ledger(campaign, queued=10, skipped=0)


def test_a_campaign_cancelled_before_its_start_still_gets_its_ledger(monkeypatch) -> None:
    campaign, seen = _running(10), []
    campaign_cancel(campaign=campaign, reason="stop", actor=OPERATOR)
    _not_eager(monkeypatch)
    monkeypatch.setattr(tasks, "campaign_dispatch", SimpleNamespace(delay=seen.append))
    tasks.campaign_start(campaign.pk)
    _assert_cancelled(campaign, "stop")
    assert seen == [campaign.pk]  # dispatch finds nothing queued and completes nothing


def _resume(monkeypatch) -> None:
    campaign = _running(10)
    real, calls, started = freeze._commit_chunk, [], []

    def dies_on_second_chunk(*args) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        real(*args)

    monkeypatch.setattr(freeze, "_commit_chunk", dies_on_second_chunk)
    with pytest.raises(RuntimeError):
        campaign_freeze(campaign=campaign, on_first_queued=lambda: started.append("first"))
    campaign.refresh_from_db()
    assert (campaign.recipients, campaign.count_queued, campaign.frozen_at) == (3, 3, None)
    assert started == ["first"]

    monkeypatch.setattr(freeze, "_commit_chunk", real)
    result = campaign_freeze(campaign=campaign, on_first_queued=lambda: started.append("again"))
    assert result == FreezeResult(10, 10, 0)
    assert started == ["first"]  # the first freezer's chains are running: no more
    _assert_ledger(campaign, queued=10, skipped=0)
    # A duplicated start of a frozen campaign writes nothing and starts nothing.
    assert campaign_freeze(campaign=campaign, on_first_queued=started.append) == result
    assert (Message.objects.count(), started) == (10, ["first"])


def test_a_freeze_that_died_resumes_after_the_last_committed_chunk(monkeypatch) -> None:
    _resume(monkeypatch)


def test_chunks_committed_after_a_cancel_are_skipped_with_its_reason() -> None:
    campaign = _running(10)

    def cancel() -> None:
        campaign_cancel(
            campaign=Campaign.objects.get(pk=campaign.pk), reason="wrong offer", actor=OPERATOR
        )

    result = campaign_freeze(campaign=campaign, on_first_queued=cancel)
    assert result == FreezeResult(10, 0, 10)
    assert Campaign.objects.get(pk=campaign.pk).state == "cancelled"
    # Chunk one was skipped by the cancel, chunks two to four as they committed after it.
    _assert_cancelled(campaign, "wrong offer")


def _assert_cancelled(campaign: Campaign, reason: str) -> None:
    ledger = Message.objects.filter(campaign=campaign)
    assert list(ledger.values_list("state", "reason").distinct()) == [("skipped", reason)]
    events = MessageEvent.objects.filter(from_state="queued", to_state="skipped")
    assert sorted(events.values_list("message_id", flat=True)) == sorted(
        ledger.values_list("id", flat=True)
    )
    _assert_ledger(campaign, queued=0, skipped=10, priced=10)  # the estimate at launch


def test_skipped_contacts_get_rows_in_every_chunk_and_sending_starts_with_the_first_queued() -> (
    None
):
    campaign = _running(10)
    ids = list(Contact.objects.order_by("id").values_list("id", flat=True))
    Contact.objects.filter(id__in=[*ids[:3], ids[7]]).update(opted_out=True)  # all of chunk one
    Contact.objects.filter(id=ids[9]).update(first_name="")
    seen = []
    result = campaign_freeze(
        campaign=campaign,
        on_first_queued=lambda: seen.append(Message.objects.filter(campaign=campaign).count()),
    )
    assert seen == [6]  # after chunk two, the first with something to send
    assert result == FreezeResult(10, 5, 5)
    skipped = dict(Message.objects.filter(state="skipped").values_list("contact_id", "reason"))
    missing = "missing value for {{first_name}}"
    assert skipped == {**{i: "opted out" for i in [*ids[:3], ids[7]]}, ids[9]: missing}
    _assert_ledger(campaign, queued=5, skipped=5)


def test_with_nothing_to_send_sending_starts_once_the_freeze_is_done() -> None:
    campaign = _running(4)
    Contact.objects.update(opted_out=True)
    seen = []
    state = Campaign.objects.filter(pk=campaign.pk).values_list("recipients", "frozen_at")
    campaign_freeze(campaign=campaign, on_first_queued=lambda: seen.extend(state))
    assert [(recipients, frozen_at is not None) for recipients, frozen_at in seen] == [(4, True)]
    _assert_ledger(campaign, queued=0, skipped=4)


@pytest.mark.parametrize(("frozen", "more", "wait"), [(False, True, FREEZE_POLL), (True, False, 0)])
def test_a_chain_with_nothing_queued_waits_only_while_the_freeze_runs(frozen, more, wait) -> None:
    campaign = _running(3)
    Contact.objects.update(opted_out=True)
    campaign_freeze(campaign=campaign)  # three rows, all skipped
    Campaign.objects.filter(pk=campaign.pk).update(frozen_at=timezone.now() if frozen else None)
    result = campaign_send_batch(campaign_id=campaign.pk)
    assert (result.claimed, result.more, result.wait) == (0, more, wait)


# --- PostgreSQL: COPY, commits seen by another session, the advisory lock ----------------------


@pytest.fixture
def other_session():
    """A second PostgreSQL session on the test database (autocommit)."""
    worker.require_real_engines()
    with psycopg.connect(worker.test_database_url(), autocommit=True) as conn:
        yield conn


def _lock(session, campaign: Campaign, fn: str = "pg_advisory_lock") -> bool:
    return session.execute(f"SELECT {fn}(%s, %s)", [FREEZE_LOCK, campaign.pk]).fetchone()[0]


def _free(session, campaign: Campaign) -> bool:
    """The freezer lock is free (asked by another session: the lock is re-entrant in its own)."""
    return _lock(session, campaign, "pg_try_advisory_lock") and _lock(
        session, campaign, "pg_advisory_unlock"
    )


class TestOnPostgres:
    pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

    def test_chunks_are_committed_as_they_go_under_the_lock(self, monkeypatch, other_session):
        held = []

        def peek(campaign: Campaign) -> tuple:
            held.append(not _lock(other_session, campaign, "pg_try_advisory_lock"))
            # Read by another session: chunk one is committed, not just written.
            sql = "SELECT count(*), max(recipients), max(frozen_at) FROM campaigns_message m"
            sql += " JOIN campaigns_campaign c ON c.id = m.campaign_id WHERE c.id = %s"
            return other_session.execute(sql, [campaign.pk]).fetchone()

        _chunks_and_first_queued(monkeypatch, peek)
        assert held == [True]
        assert _free(other_session, Campaign.objects.get())  # released at the end

    def test_a_freeze_that_died_resumes(self, monkeypatch, other_session) -> None:
        _resume(monkeypatch)
        assert _free(other_session, Campaign.objects.get())  # the failed one let go

    def test_a_cancel_that_commits_while_a_chunk_is_open_skips_that_chunk(
        self, monkeypatch, other_session
    ) -> None:
        campaign, real, inserts, errors = _running(10), freeze._insert, [], []

        def cancel() -> None:  # in its own thread, so its own session
            try:
                campaign_cancel(
                    campaign=Campaign.objects.get(pk=campaign.pk), reason="stop", actor=OPERATOR
                )
            except Exception as exc:  # reported by the assertion below
                errors.append(exc)
            finally:
                connections.close_all()

        def insert_then_cancel(rows: list[tuple]) -> None:
            real(rows)
            inserts.append(len(rows))
            if len(inserts) == 2:  # chunk two written, not yet committed
                thread = threading.Thread(target=cancel)
                thread.start()
                thread.join(timeout=10)
                assert not thread.is_alive(), "the cancel waited for the open chunk"

        monkeypatch.setattr(freeze, "_insert", insert_then_cancel)
        assert campaign_freeze(campaign=campaign) == FreezeResult(10, 0, 10)
        assert (inserts, errors) == ([3, 3, 3, 1], [])
        _assert_cancelled(campaign, "stop")

    def test_one_freezer_per_campaign(self, other_session) -> None:
        campaign = _running(5)
        _lock(other_session, campaign)
        assert freeze_in_progress(campaign.pk)
        assert campaign_freeze(campaign=campaign, on_first_queued=pytest.fail) is None
        assert not Message.objects.exists()
        assert Campaign.objects.get(pk=campaign.pk).frozen_at is None
        assert _lock(other_session, campaign, "pg_advisory_unlock")
        assert not freeze_in_progress(campaign.pk)
        assert campaign_freeze(campaign=campaign) == FreezeResult(5, 5, 0)
        _assert_ledger(campaign, queued=5, skipped=0)

    def test_sweep_restarts_unfrozen_campaigns_nobody_is_freezing(
        self, monkeypatch, settings, other_session
    ) -> None:
        settings.HERALD_SETTLE_AFTER = 60
        busy, dead, fresh, frozen, paused, gone = (_running(1, f"+447946{i}") for i in range(6))
        launched = timezone.now() - dt.timedelta(seconds=90)
        Campaign.objects.exclude(pk=fresh.pk).update(launched_at=launched)
        Campaign.objects.filter(pk=frozen.pk).update(frozen_at=timezone.now())
        Campaign.objects.filter(pk=paused.pk).update(state="paused")
        # Cancelled before its ledger was complete: the rest is still written (as skipped).
        Campaign.objects.filter(pk=gone.pk).update(state="cancelled")
        _lock(other_session, busy)
        started = []
        monkeypatch.setattr(tasks, "campaign_start", SimpleNamespace(delay=started.append))
        assert sorted(tasks.campaign_restart_unfrozen()) == sorted(started)
        assert sorted(started) == [dead.pk, paused.pk, gone.pk]
        assert _lock(other_session, busy, "pg_advisory_unlock")
        restarted = [busy.pk, dead.pk, paused.pk, gone.pk]
        assert sorted(tasks.campaign_restart_unfrozen()) == restarted
