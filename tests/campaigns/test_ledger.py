"""The ledger primitives: forward-only outcomes, claims, releases, counters and events in step.

These use raw SQL, so the same tests also run on PostgreSQL (test_ledger_pg.py).
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.ledger import (
    Outcome,
    SentStatus,
    messages_apply_outcomes,
    messages_claim,
    messages_record_sent,
    messages_release,
)
from campaigns.models import Campaign, Message, MessageEvent
from campaigns.states import MessageState
from contacts.models import Contact

pytestmark = pytest.mark.django_db(transaction=True)


def _campaign(
    n: int, state: str = "queued", channel: str = "sms"
) -> tuple[Campaign, list[Message]]:
    campaign = Campaign.objects.create(name="c", state="running", recipients=n)
    contacts = Contact.objects.bulk_create([Contact(phone=f"+4479460{i:05d}") for i in range(n)])
    Message.objects.bulk_create(
        [
            Message(campaign=campaign, contact=c, phone=c.phone, channel=channel, state=state)
            for c in contacts
        ]
    )
    Campaign.objects.filter(pk=campaign.pk).update(**{f"count_{state}": n})
    return campaign, list(Message.objects.filter(campaign=campaign).order_by("id"))


def _counts(campaign: Campaign) -> dict[str, int]:
    campaign.refresh_from_db()
    return {k: v for k, v in campaign.counts.items() if v}


def test_outcomes_move_forward_and_counters_follow() -> None:
    campaign, messages = _campaign(3, state="sending")
    result = messages_apply_outcomes(
        outcomes=[
            Outcome(str(messages[0].message_id), "accepted", status_name="PENDING_ACCEPTED"),
            Outcome(
                str(messages[1].message_id),
                "delivered",
                status_group="DELIVERED",
                status_id=5,
                status_name="DELIVERED_TO_HANDSET",
                price=Decimal("0.0500"),
                currency="EUR",
                parts=2,
            ),
        ]
    )
    assert (result.applied, result.unchanged, result.unknown) == (2, 0, [])
    assert _counts(campaign) == {"sending": 1, "accepted": 1, "delivered": 1}
    assert campaign.cost_amount == Decimal("0.0500")
    assert campaign.cost_currency == "EUR"
    delivered = Message.objects.get(pk=messages[1].pk)
    assert (delivered.state, delivered.status_id, delivered.parts) == ("delivered", 5, 2)
    assert delivered.price == Decimal("0.05")
    assert delivered.done_at is not None
    accepted = Message.objects.get(pk=messages[0].pk)
    assert accepted.accepted_at is not None
    assert accepted.done_at is None
    assert MessageEvent.objects.filter(kind="state").count() == 2


def test_same_outcomes_twice_change_nothing_the_second_time() -> None:
    campaign, messages = _campaign(50, state="accepted")
    outcomes = [
        Outcome(str(m.message_id), "delivered", status_name="DELIVERED_TO_HANDSET",
                price=Decimal("0.01"), currency="EUR")
        for m in messages
    ]  # fmt: skip
    first = messages_apply_outcomes(outcomes=outcomes)
    events = MessageEvent.objects.count()
    second = messages_apply_outcomes(outcomes=outcomes)
    assert (first.applied, second.applied, second.unchanged) == (50, 0, 50)
    assert MessageEvent.objects.count() == events
    assert _counts(campaign) == {"delivered": 50}
    assert campaign.cost_amount == Decimal("0.5000")


def test_late_intermediate_report_is_recorded_but_never_moves_a_final_state() -> None:
    campaign, messages = _campaign(1, state="accepted")
    key = str(messages[0].message_id)
    messages_apply_outcomes(
        outcomes=[Outcome(key, "delivered", status_name="DELIVERED_TO_HANDSET")]
    )
    result = messages_apply_outcomes(
        outcomes=[Outcome(key, "accepted", status_name="PENDING_ENROUTE")]
    )
    assert (result.applied, result.unchanged) == (0, 1)
    assert Message.objects.get(pk=messages[0].pk).state == "delivered"
    report = MessageEvent.objects.get(kind="report")
    assert report.status_name == "PENDING_ENROUTE"
    assert report.to_state == ""
    assert _counts(campaign) == {"delivered": 1}


def test_within_one_batch_the_highest_ranked_outcome_wins_whatever_the_order() -> None:
    campaign, messages = _campaign(1, state="sending")
    key = str(messages[0].message_id)
    late = timezone.now()
    result = messages_apply_outcomes(
        outcomes=[
            Outcome(key, "undeliverable", status_name="UNDELIVERABLE_NOT_DELIVERED", at=late),
            Outcome(key, "accepted", status_name="PENDING_ACCEPTED", at=late + dt.timedelta(1)),
        ]
    )
    assert result.applied == 1
    assert Message.objects.get(pk=messages[0].pk).state == "undeliverable"
    assert _counts(campaign) == {"undeliverable": 1}


def test_unknown_message_ids_are_returned_not_dropped() -> None:
    _campaign(1, state="accepted")
    stranger = "7f0c8a9e-0000-4000-8000-000000000000"
    result = messages_apply_outcomes(outcomes=[Outcome(stranger, "delivered")])
    assert result.unknown == [stranger]
    assert result.applied == 0


def test_price_is_counted_once_when_a_later_report_repeats_it() -> None:
    campaign, messages = _campaign(1, state="sending")
    key = str(messages[0].message_id)
    messages_apply_outcomes(outcomes=[Outcome(key, "accepted", price=Decimal("0.03"))])
    messages_apply_outcomes(outcomes=[Outcome(key, "delivered", price=Decimal("0.03"))])
    campaign.refresh_from_db()
    assert campaign.cost_amount == Decimal("0.0300")


def test_failover_attempts_are_counted_separately() -> None:
    campaign, messages = _campaign(2, state="undeliverable", channel="whatsapp")
    failover = Message.objects.create(
        campaign=campaign,
        contact=messages[0].contact,
        phone=messages[0].phone,
        channel="sms",
        attempt=1,
        replaces=messages[0],
        state="sending",
    )
    Campaign.objects.filter(pk=campaign.pk).update(count_sending=1)
    messages_apply_outcomes(outcomes=[Outcome(str(failover.message_id), "accepted")])
    messages_apply_outcomes(outcomes=[Outcome(str(failover.message_id), "delivered")])
    campaign.refresh_from_db()
    assert (campaign.failover_sent, campaign.failover_delivered) == (1, 1)


def test_claim_takes_each_due_message_once() -> None:
    campaign, messages = _campaign(10)
    later = timezone.now() + dt.timedelta(hours=1)
    Message.objects.filter(pk=messages[0].pk).update(not_before=later)
    first = messages_claim(campaign_id=campaign.pk, limit=6)
    second = messages_claim(campaign_id=campaign.pk, limit=6)
    third = messages_claim(campaign_id=campaign.pk, limit=6)
    assert (len(first), len(second), third) == (6, 3, [])
    claimed = {m.pk for m in first} | {m.pk for m in second}
    assert len(claimed) == 9
    assert messages[0].pk not in claimed
    assert all(m.state == MessageState.SENDING and m.claimed_at for m in first + second)
    assert _counts(campaign) == {"queued": 1, "sending": 9}
    # The claim writes no event (claimed_at is on the row, the next event starts at sending).
    assert not MessageEvent.objects.filter(from_state="queued", to_state="sending").exists()
    assert Message.objects.filter(pk__in=claimed, claimed_at__isnull=False).count() == 9


def test_release_returns_claims_to_the_queue_with_a_reason() -> None:
    campaign, _ = _campaign(4)
    claimed = messages_claim(campaign_id=campaign.pk, limit=4)
    assert messages_release(message_ids=[m.pk for m in claimed], reason="429 from Infobip") == 4
    assert messages_release(message_ids=[m.pk for m in claimed], reason="again") == 0
    assert _counts(campaign) == {"queued": 4}
    assert MessageEvent.objects.filter(to_state="queued", detail="429 from Infobip").count() == 4


def test_claims_move_the_hint_and_released_rows_come_first_again() -> None:
    campaign, messages = _campaign(6)
    first = messages_claim(campaign_id=campaign.pk, limit=3)
    campaign.refresh_from_db()
    assert campaign.claim_from == first[-1].pk + 1
    messages_release(message_ids=[first[1].pk], reason="429 from Infobip")
    campaign.refresh_from_db()
    assert campaign.claim_from == first[1].pk
    again = messages_claim(campaign_id=campaign.pk, limit=2, floor=campaign.claim_from)
    assert [m.pk for m in again] == [first[1].pk, messages[3].pk]


def test_rows_below_the_hint_are_found_by_a_scan_from_the_start() -> None:
    campaign, messages = _campaign(4)
    later = timezone.now() + dt.timedelta(hours=1)
    Message.objects.filter(pk=messages[0].pk).update(not_before=later)
    assert len(messages_claim(campaign_id=campaign.pk, limit=10)) == 3
    campaign.refresh_from_db()
    assert campaign.claim_from == messages[-1].pk + 1
    # Due now, but below the hint: only a scan from the start sees it.
    Message.objects.filter(pk=messages[0].pk).update(not_before=None)
    hint = campaign.claim_from
    assert messages_claim(campaign_id=campaign.pk, limit=10, floor=hint, rescan=False) == []
    found = messages_claim(campaign_id=campaign.pk, limit=10, floor=hint)
    assert [m.pk for m in found] == [messages[0].pk]
    assert _counts(campaign) == {"sending": 4}


def test_deleting_a_campaign_deletes_its_messages_and_their_events() -> None:
    # Events carry no database constraint (see MessageEvent.message): Django's cascade must
    # still remove them with their messages, leaving no orphan.
    campaign, messages = _campaign(3)
    claimed = messages_claim(campaign_id=campaign.pk, limit=3)
    messages_release(message_ids=[m.pk for m in claimed], reason="429 from Infobip")
    assert MessageEvent.objects.filter(message__campaign=campaign).count() == 3
    ids = [m.pk for m in messages]
    campaign.delete()
    assert not Message.objects.filter(id__in=ids).exists()
    assert not MessageEvent.objects.filter(message_id__in=ids).exists()


PENDING = SentStatus("accepted", "PENDING", 26, "PENDING_ACCEPTED", "")
REJECTED = SentStatus("rejected", "REJECTED", 6, "REJECTED_DESTINATION", "Destination rejected")


def test_a_send_answer_moves_the_claimed_rows_in_one_write() -> None:
    campaign, _ = _campaign(5)
    claimed = messages_claim(campaign_id=campaign.pk, limit=5)
    sent = [(row, PENDING, 2) for row in claimed[:4]] + [(claimed[4], REJECTED, None)]
    record = messages_record_sent(campaign_id=campaign.pk, sent=sent, bulk_id="b-1")
    assert (record.applied, record.unknown) == (5, [])
    assert _counts(campaign) == {"accepted": 4, "rejected": 1}
    rows = {m.pk: m for m in Message.objects.filter(campaign=campaign)}
    accepted = rows[claimed[0].pk]
    assert (accepted.state, accepted.status_name, accepted.status_id, accepted.parts) == (
        "accepted", "PENDING_ACCEPTED", 26, 2,
    )  # fmt: skip
    assert (accepted.bulk_id, accepted.accepted_at is not None, accepted.done_at) == (
        "b-1", True, None,
    )  # fmt: skip
    rejected = rows[claimed[4].pk]
    assert (rejected.state, rejected.reason, rejected.parts) == (
        "rejected", "Destination rejected", 1,
    )  # fmt: skip
    assert rejected.done_at is not None
    # The rows say it all: the send path writes no event.
    events = MessageEvent.objects.filter(message__campaign=campaign)
    assert not events.exists()
    # Recording the same answer again (a duplicated task) changes nothing.
    again = messages_record_sent(campaign_id=campaign.pk, sent=sent, bulk_id="b-1")
    assert again.applied == 0
    assert not events.exists()
    assert _counts(campaign) == {"accepted": 4, "rejected": 1}


def test_a_send_answer_never_moves_back_a_row_a_report_overtook() -> None:
    campaign, _ = _campaign(3)
    claimed = messages_claim(campaign_id=campaign.pk, limit=3)
    messages_apply_outcomes(
        outcomes=[Outcome(claimed[0].message_id, "delivered", status_name="DELIVERED_TO_HANDSET")]
    )
    record = messages_record_sent(
        campaign_id=campaign.pk, sent=[(row, PENDING, 1) for row in claimed], bulk_id="b"
    )
    assert record.applied == 2
    assert Message.objects.get(pk=claimed[0].pk).state == "delivered"
    assert _counts(campaign) == {"accepted": 2, "delivered": 1}
    assert not MessageEvent.objects.filter(message_id=claimed[0].pk, to_state="accepted").exists()


def test_a_send_answer_for_a_failover_sms_counts_it_sent() -> None:
    campaign, messages = _campaign(2, state="undeliverable")
    failover = Message.objects.create(
        campaign=campaign, contact=messages[0].contact, phone=messages[0].phone, channel="sms",
        attempt=2, replaces=messages[0], state="queued",
    )  # fmt: skip
    Campaign.objects.filter(pk=campaign.pk).update(count_queued=1)
    claimed = messages_claim(campaign_id=campaign.pk, limit=5)
    assert [row.pk for row in claimed] == [failover.pk]
    messages_record_sent(campaign_id=campaign.pk, sent=[(claimed[0], PENDING, 1)], bulk_id="b")
    campaign.refresh_from_db()
    assert (campaign.failover_sent, campaign.count_accepted, campaign.count_sending) == (1, 1, 0)
