"""The ledger's hot updates are HOT: the send answer (queued → accepted) and delivery reports
write no index entry (pg_stat_user_tables.n_tup_hot_upd counts every one of them).

Real commits (transaction=True): a backend reports its table statistics when a transaction
ends, and `pg_stat_force_next_flush()` makes it do so at once.
"""

import uuid

import pytest
from django.db import connection

from campaigns.ledger import (
    Outcome,
    SentStatus,
    messages_apply_reports,
    messages_claim,
    messages_record_sent,
)
from campaigns.models import Campaign, Message
from contacts.models import Contact

pytestmark = pytest.mark.django_db(transaction=True)


def _updates() -> tuple[int, int]:
    """(updates, HOT updates) of the ledger table so far, this backend's included."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    with connection.cursor() as cursor:  # the flush happened when the statement above ended
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
            "WHERE relname = 'campaigns_message'"
        )
        return cursor.fetchone()


def _campaign(n: int) -> Campaign:
    """A running campaign of `n` queued rows as a freeze writes them (a typical SMS text)."""
    campaign = Campaign.objects.create(name="c", state="running", recipients=n, count_queued=n)
    contacts = Contact.objects.bulk_create(
        [Contact(phone=f"+4479460{i:05d}", first_name=f"Ann{i}") for i in range(n)]
    )
    text = "Hi Ann{}, our spring offers start today: 20% off for you."
    Message.objects.bulk_create(
        Message(
            campaign=campaign,
            contact=c,
            phone=c.phone,
            channel="sms",
            state="queued",
            text=text.format(i),
            callback_data=f"herald:campaign={campaign.pk}",
            encoding="GSM-7",
        )
        for i, c in enumerate(contacts)
    )
    return campaign


def test_the_send_answer_and_the_reports_are_heap_only_updates() -> None:
    campaign = _campaign(300)
    accepted = SentStatus("accepted", "PENDING", 26, "PENDING_ACCEPTED", "")
    sent: list[str] = []
    before = _updates()
    while claimed := messages_claim(campaign_id=campaign.pk, limit=100):
        messages_record_sent(
            campaign_id=campaign.pk,
            sent=[(row, accepted, 1) for row in claimed],
            bulk_id=str(uuid.uuid4()),
            batch_id=claimed[0].batch_id,
        )
        sent += [row.message_id for row in claimed]
    answered = _updates()
    for start in range(0, len(sent), 100):
        messages_apply_reports(
            outcomes=[
                Outcome(mid, "delivered", "DELIVERED", 5, "DELIVERED_TO_HANDSET")
                for mid in sent[start : start + 100]
            ]
        )
    reported = _updates()

    assert len(sent) == 300
    assert (answered[0] - before[0], answered[1] - before[1]) == (300, 300)
    assert (reported[0] - answered[0], reported[1] - answered[1]) == (300, 300)
    campaign.refresh_from_db()
    assert campaign.count_delivered == 300


def test_no_ledger_index_names_a_column_the_hot_updates_write() -> None:
    # What the answer's and the reports' UPDATEs set (statements.UPDATE_SENT, UPDATE_COLUMNS)
    # must stay out of every index's keys and predicate, or the updates stop being HOT.
    from campaigns.ledger.statements import UPDATE_COLUMNS

    written = {name for name, _ in UPDATE_COLUMNS} | {"claimed_at"}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'campaigns_message'"
        )
        indexes = cursor.fetchall()
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'campaigns_message'")
        options = cursor.fetchone()[0]
    named = {
        name: sorted(column for column in written if column in definition.split("USING", 1)[1])
        for name, definition in indexes
    }
    assert {name: columns for name, columns in named.items() if columns} == {}
    assert "fillfactor=35" in options
