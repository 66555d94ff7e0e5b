"""Batch claims: rows stay queued while their batch is sent; everything else leaves them be.

Cancel, pause, opt-outs and the failover's late-delivery skip all act on queued rows; a row of
a live batch is being sent, so each of them must leave it to the batch's answer. The same
tests run on PostgreSQL (test_batch_claims_pg.py).
"""

import pytest

from campaigns.failover import failover_cancel_for_delivered
from campaigns.ledger import SentStatus, messages_claim, messages_record_sent
from campaigns.models import Campaign, Message, SendBatch
from campaigns.services import (
    campaign_cancel,
    campaign_live_counts,
    campaign_pause,
    campaign_resume,
)
from core.rules import OPERATOR
from tests.campaigns.test_ledger import _campaign, _counts

pytestmark = pytest.mark.django_db(transaction=True)
PENDING = SentStatus("accepted", "PENDING", 26, "PENDING_ACCEPTED", "")


def _answer(campaign: Campaign, claimed: list) -> None:
    messages_record_sent(
        campaign_id=campaign.pk,
        sent=[(row, PENDING, 1) for row in claimed],
        bulk_id="b",
        batch_id=claimed[0].batch_id,
    )


def test_cancel_skips_the_queue_but_not_a_batch_in_flight() -> None:
    campaign, messages = _campaign(4)
    claimed = messages_claim(campaign_id=campaign.pk, limit=2)
    campaign_cancel(campaign=campaign, actor=OPERATOR, reason="stop")
    states = dict(Message.objects.filter(campaign=campaign).values_list("id", "state"))
    assert [states[m.pk] for m in messages] == ["queued", "queued", "skipped", "skipped"]
    # The batch went: its answer records it sent, not skipped.
    _answer(campaign, claimed)
    assert _counts(campaign) == {"accepted": 2, "skipped": 2}


def test_pause_lets_the_batch_in_flight_finish_and_resume_sends_only_the_rest(
    monkeypatch,
) -> None:
    monkeypatch.setattr("campaigns.tasks.campaign_dispatch.delay", lambda pk: None)
    campaign, messages = _campaign(4)
    claimed = messages_claim(campaign_id=campaign.pk, limit=2)
    campaign_pause(campaign=campaign, actor=OPERATOR)
    assert messages_claim(campaign_id=campaign.pk, limit=4, floor=0) == []  # paused
    _answer(campaign, claimed)
    campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk), actor=OPERATOR)
    rest = messages_claim(campaign_id=campaign.pk, limit=4, floor=0)
    assert [m.pk for m in rest] == [m.pk for m in messages[2:]]
    _answer(campaign, rest)
    assert _counts(campaign) == {"accepted": 4}
    assert set(SendBatch.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
        "sent"
    }


def test_a_late_whatsapp_delivery_skips_a_queued_failover_sms_not_one_being_sent() -> None:
    campaign, originals = _campaign(2, state="undeliverable", channel="whatsapp")
    failovers = [
        Message.objects.create(
            campaign=campaign,
            contact=m.contact,
            phone=m.phone,
            channel="sms",
            attempt=2,
            replaces=m,
            state="queued",
        )
        for m in originals
    ]
    Campaign.objects.filter(pk=campaign.pk).update(count_queued=2)
    claimed = messages_claim(campaign_id=campaign.pk, limit=1)
    assert [row.pk for row in claimed] == [failovers[0].pk]
    assert failover_cancel_for_delivered(message_ids=[m.pk for m in originals]) == 1
    states = dict(Message.objects.filter(replaces__isnull=False).values_list("id", "state"))
    assert (states[failovers[0].pk], states[failovers[1].pk]) == ("queued", "skipped")
    _answer(campaign, claimed)
    assert Message.objects.get(pk=failovers[0].pk).state == "accepted"


def test_the_campaign_page_shows_a_batch_in_flight_as_sending() -> None:
    campaign, _ = _campaign(5)
    claimed = messages_claim(campaign_id=campaign.pk, limit=3)
    campaign.refresh_from_db()
    # The counters are the ledger's GROUP BY (all queued); the page says what is going out.
    assert (campaign.count_queued, campaign.count_sending) == (5, 0)
    live = campaign_live_counts(campaign)
    assert (live["queued"], live["sending"]) == (2, 3)
    _answer(campaign, claimed[:2])  # one row left unknown, still held by its batch
    campaign.refresh_from_db()
    live = campaign_live_counts(campaign)
    assert (live["queued"], live["sending"], live["accepted"]) == (2, 1, 2)
