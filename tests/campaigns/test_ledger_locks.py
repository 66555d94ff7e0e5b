"""The ledger's row locks against a second connection: claims, answers and the settler wait for
whoever holds the rows, then do the right thing (real commits, so transaction=True)."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_claim_waits_for_a_cancel_in_progress_then_claims_nothing() -> None:
    import threading

    import psycopg

    from campaigns.ledger import messages_claim
    from campaigns.models import Campaign
    from tests.campaigns.test_ledger import _campaign
    from tests.fixtures import worker

    campaign, _ = _campaign(5)
    claimed: list = []
    with psycopg.connect(worker.test_database_url()) as cancel:
        # A cancel holds the campaign's row (as campaign_cancel's state change does) …
        cancel.execute(
            "UPDATE campaigns_campaign SET state = 'cancelled' WHERE id = %s", [campaign.pk]
        )
        thread = threading.Thread(
            target=lambda: claimed.append(messages_claim(campaign_id=campaign.pk, limit=5))
        )
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()  # … so the claim waits for it instead of locking messages
        cancel.commit()
    thread.join(10)
    from django.db import connections

    connections.close_all()  # the thread's connection
    assert claimed == [[]]
    assert Campaign.objects.get(pk=campaign.pk).count_queued == 5


def test_ledger_statements_on_their_own_cursor_raise_django_errors() -> None:
    # The outcome write and the lock read use a server-binding psycopg cursor; callers such as
    # webhook processing retry on django.db.OperationalError, so errors must arrive as Django's.
    import django.db
    import psycopg
    from psycopg.rows import tuple_row

    from campaigns.ledger.statements import bound_cursor

    with pytest.raises(django.db.DataError) as caught, bound_cursor(tuple_row) as cursor:
        cursor.execute("SELECT %s::uuid", ["not a uuid"])
    assert isinstance(caught.value.__cause__, psycopg.DataError)
    # A deadlock (40P01) is what a concurrent report batch could meet: a transient error.
    with pytest.raises(django.db.OperationalError), bound_cursor(tuple_row) as cursor:
        cursor.execute("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40P01'; END $$")


def test_a_send_answer_waits_for_a_report_holding_the_row_then_leaves_it_delivered() -> None:
    import threading

    import psycopg

    from campaigns.ledger import messages_claim, messages_record_sent
    from campaigns.models import Campaign, Message
    from tests.campaigns.test_ledger import PENDING, _campaign
    from tests.fixtures import worker

    campaign, _ = _campaign(2)
    claimed = messages_claim(campaign_id=campaign.pk, limit=2)
    done: list = []
    with psycopg.connect(worker.test_database_url()) as report:
        # A report's transaction has moved the first row to delivered, not committed yet …
        report.execute(
            "UPDATE campaigns_message SET state = 'delivered' WHERE id = %s", [claimed[0].pk]
        )
        thread = threading.Thread(
            target=lambda: done.append(
                messages_record_sent(
                    campaign_id=campaign.pk,
                    sent=[(r, PENDING, 1) for r in claimed],
                    bulk_id="b",
                    batch_id=claimed[0].batch_id,
                )
            )
        )
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()  # … so the answer's write waits for the row
        report.commit()
    thread.join(10)
    from django.db import connections

    connections.close_all()
    # The condition is checked again after the wait: the delivered row is not moved back.
    assert done[0].applied == 1
    states = dict(Message.objects.filter(campaign=campaign).values_list("id", "state"))
    assert states == {claimed[0].pk: "delivered", claimed[1].pk: "accepted"}
    assert Campaign.objects.get(pk=campaign.pk).count_accepted == 1


def test_the_settler_waits_for_a_sender_recording_its_batch_then_leaves_it(
    settings, monkeypatch
) -> None:
    # The batch row is what a slow sender and the settler both take first: the settler waits
    # for the answer's transaction, then finds the batch ended and releases nothing.
    import datetime as dt
    import threading

    import psycopg
    from django.utils import timezone

    from campaigns import reconcile
    from campaigns.ledger import messages_claim
    from campaigns.models import SendBatch
    from tests.campaigns.test_ledger import _campaign
    from tests.fixtures import worker

    settings.HERALD_SETTLE_AFTER, settings.HERALD_REQUEUE_AFTER = 60, 600
    monkeypatch.setattr(reconcile, "_logs", lambda rows: {})  # the logs know none of them
    campaign, _ = _campaign(2)
    claimed = messages_claim(campaign_id=campaign.pk, limit=2)
    batch = claimed[0].batch_id
    SendBatch.objects.filter(pk=batch).update(claimed_at=timezone.now() - dt.timedelta(hours=1))
    done: list = []
    with psycopg.connect(worker.test_database_url()) as sender:
        # The sender's answer: the batch row first, then the rows (not committed yet) …
        sender.execute(
            "UPDATE campaigns_sendbatch SET ids = '[]', state = 'sent' WHERE id = %s", [batch]
        )
        sender.execute(
            "UPDATE campaigns_message SET state = 'accepted' WHERE campaign_id = %s",
            [campaign.pk],
        )
        thread = threading.Thread(target=lambda: done.append(reconcile.messages_settle()))
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()  # … so the settler waits for the batch row
        sender.commit()
    thread.join(10)
    from django.db import connections

    connections.close_all()
    assert done[0].requeued == 0
    assert SendBatch.objects.get(pk=batch).state == "sent"
