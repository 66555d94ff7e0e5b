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
    batch_take,
    messages_apply_outcomes,
    messages_claim,
    messages_in_flight,
    messages_record_sent,
    messages_skip_unclaimed,
)
from campaigns.models import Campaign, Message, MessageEvent, SendBatch
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
        Outcome(
            str(m.message_id),
            "delivered",
            status_name="DELIVERED_TO_HANDSET",
            price=Decimal("0.01"),
            currency="EUR",
        )
        for m in messages
    ]
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


def _release(claimed: list, reason: str) -> bool:
    return batch_take(
        batch_id=claimed[0].batch_id, message_ids=[m.pk for m in claimed], released=reason
    )


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
    # One batch row per claim, and no ledger row written: they stay queued until the answer.
    batches = list(SendBatch.objects.filter(campaign=campaign).order_by("id"))
    assert [b.ids for b in batches] == [[m.pk for m in first], [m.pk for m in second]]
    assert {b.state for b in batches} == {"claimed"}
    assert {m.batch_id for m in first} == {batches[0].pk}
    assert Message.objects.filter(campaign=campaign, state="queued").count() == 10
    assert not Message.objects.filter(campaign=campaign, claimed_at__isnull=False).exists()
    assert _counts(campaign) == {"queued": 10}
    assert not MessageEvent.objects.exists()
    assert messages_in_flight(campaign_id=campaign.pk) == 9


def test_a_scan_from_the_start_skips_the_rows_of_live_batches() -> None:
    campaign, messages = _campaign(5)
    first = messages_claim(campaign_id=campaign.pk, limit=2)
    # Floor 0 (the scan from the start) passes the batch's rows: they are queued, but held.
    again = messages_claim(campaign_id=campaign.pk, limit=10, floor=0)
    assert [m.pk for m in again] == [m.pk for m in messages[2:]]
    assert not {m.pk for m in first} & {m.pk for m in again}
    assert messages_claim(campaign_id=campaign.pk, limit=10, floor=0) == []


def test_release_returns_claims_to_the_queue_with_a_reason() -> None:
    campaign, _ = _campaign(4)
    claimed = messages_claim(campaign_id=campaign.pk, limit=4)
    assert _release(claimed, "429 from Infobip")
    assert not _release(claimed, "again")  # the batch is no longer live
    batch = SendBatch.objects.get(pk=claimed[0].batch_id)
    assert (batch.state, batch.reason, batch.ids) == ("released", "429 from Infobip", [])
    assert _counts(campaign) == {"queued": 4}
    assert messages_in_flight(campaign_id=campaign.pk) == 0
    # The rows never left `queued`: nothing to write back, no event.
    assert not MessageEvent.objects.exists()
    assert len(messages_claim(campaign_id=campaign.pk, limit=4, floor=0)) == 4


def test_claims_move_the_hint_and_released_rows_come_first_again() -> None:
    campaign, messages = _campaign(6)
    first = messages_claim(campaign_id=campaign.pk, limit=3)
    campaign.refresh_from_db()
    assert campaign.claim_from == first[-1].pk + 1
    batch_take(batch_id=first[1].batch_id, message_ids=[first[1].pk], released="429")
    campaign.refresh_from_db()
    assert campaign.claim_from == first[1].pk
    again = messages_claim(campaign_id=campaign.pk, limit=2, floor=campaign.claim_from)
    # The released row is claimable again; its neighbours are still in the first batch.
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
    assert messages_in_flight(campaign_id=campaign.pk) == 4


def test_held_rows_come_due_from_the_waiting_index_and_leave_it_when_answered() -> None:
    from campaigns.ledger import SentStatus, messages_record_sent

    campaign, messages = _campaign(4)
    now = timezone.now()
    Message.objects.filter(pk=messages[0].pk).update(not_before=now + dt.timedelta(hours=1))
    assert len(messages_claim(campaign_id=campaign.pk, limit=10, now=now)) == 3
    campaign.refresh_from_db()
    hint = campaign.claim_from
    # Not due yet: the hinted scan, the held rows' pick and the counters all find nothing.
    assert messages_claim(campaign_id=campaign.pk, limit=10, floor=hint, now=now) == []
    # Due: picked from the held rows, and the hint stays where it was.
    later = now + dt.timedelta(hours=2)
    due = messages_claim(campaign_id=campaign.pk, limit=10, floor=hint, now=later)
    assert [m.pk for m in due] == [messages[0].pk]
    campaign.refresh_from_db()
    assert campaign.claim_from == hint
    accepted = SentStatus("accepted", "PENDING", 26, "PENDING_ACCEPTED", "")
    messages_record_sent(
        campaign_id=campaign.pk,
        sent=[(due[0], accepted, 1)],
        bulk_id="b",
        batch_id=due[0].batch_id,
    )
    # Answered: no longer waiting, so out of the partial index `message_waiting`.
    row = Message.objects.get(pk=messages[0].pk)
    assert (row.state, row.not_before) == ("accepted", None)


def test_a_skip_leaves_the_rows_of_a_live_batch_to_it() -> None:
    # An opt-out or a late WhatsApp delivery skips queued rows; a batch being sent is left
    # alone (it went: its answer records it), the rest are skipped.
    campaign, messages = _campaign(4)
    claimed = messages_claim(campaign_id=campaign.pk, limit=2)
    result = messages_skip_unclaimed(message_ids=[m.pk for m in messages], reason="opted out")
    assert result.applied == 2
    states = dict(Message.objects.filter(campaign=campaign).values_list("id", "state"))
    assert [states[m.pk] for m in messages] == ["queued", "queued", "skipped", "skipped"]
    sent = [(row, PENDING, 1) for row in claimed]
    messages_record_sent(
        campaign_id=campaign.pk, sent=sent, bulk_id="b", batch_id=claimed[0].batch_id
    )
    assert _counts(campaign) == {"accepted": 2, "skipped": 2}
    # Once answered, the batch holds nothing: a skip now finds nothing queued.
    assert messages_skip_unclaimed(message_ids=[m.pk for m in messages], reason="x").applied == 0


def test_deleting_a_campaign_deletes_its_messages_and_their_events() -> None:
    # Events carry no database constraint (see MessageEvent.message): Django's cascade must
    # still remove them with their messages, leaving no orphan.
    campaign, messages = _campaign(3)
    messages_apply_outcomes(
        outcomes=[Outcome(str(m.message_id), "skipped", reason="x") for m in messages]
    )
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
    batch = claimed[0].batch_id
    record = messages_record_sent(campaign_id=campaign.pk, sent=sent, bulk_id="b-1", batch_id=batch)
    assert (record.applied, record.unknown) == (5, [])
    assert SendBatch.objects.get(pk=batch).state == "sent"
    assert _counts(campaign) == {"accepted": 4, "rejected": 1}
    rows = {m.pk: m for m in Message.objects.filter(campaign=campaign)}
    accepted = rows[claimed[0].pk]
    assert (accepted.state, accepted.status_name, accepted.status_id, accepted.parts) == (
        "accepted",
        "PENDING_ACCEPTED",
        26,
        2,
    )
    assert (accepted.bulk_id, accepted.accepted_at is not None, accepted.done_at) == (
        "b-1",
        True,
        None,
    )
    assert accepted.claimed_at == claimed[0].claimed_at  # set by the answer's one write
    rejected = rows[claimed[4].pk]
    assert (rejected.state, rejected.reason, rejected.parts) == (
        "rejected",
        "Destination rejected",
        1,
    )
    assert rejected.done_at is not None
    # The rows say it all: the send path writes no event.
    events = MessageEvent.objects.filter(message__campaign=campaign)
    assert not events.exists()
    # Recording the same answer again (a duplicated task) changes nothing.
    again = messages_record_sent(campaign_id=campaign.pk, sent=sent, bulk_id="b-1", batch_id=batch)
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
        campaign_id=campaign.pk,
        sent=[(row, PENDING, 1) for row in claimed],
        bulk_id="b",
        batch_id=claimed[0].batch_id,
    )
    assert record.applied == 2
    assert Message.objects.get(pk=claimed[0].pk).state == "delivered"
    assert _counts(campaign) == {"accepted": 2, "delivered": 1}
    assert not MessageEvent.objects.filter(message_id=claimed[0].pk, to_state="accepted").exists()


def test_a_send_answer_for_a_failover_sms_counts_it_sent() -> None:
    campaign, messages = _campaign(2, state="undeliverable")
    failover = Message.objects.create(
        campaign=campaign,
        contact=messages[0].contact,
        phone=messages[0].phone,
        channel="sms",
        attempt=2,
        replaces=messages[0],
        state="queued",
    )
    Campaign.objects.filter(pk=campaign.pk).update(count_queued=1)
    claimed = messages_claim(campaign_id=campaign.pk, limit=5)
    assert [row.pk for row in claimed] == [failover.pk]
    messages_record_sent(
        campaign_id=campaign.pk,
        sent=[(claimed[0], PENDING, 1)],
        bulk_id="b",
        batch_id=claimed[0].batch_id,
    )
    campaign.refresh_from_db()
    assert (campaign.failover_sent, campaign.count_accepted, campaign.count_sending) == (1, 1, 0)


def test_an_answer_leaves_the_rows_it_does_not_name_in_the_batch() -> None:
    # Unnamed rows are unknown: held by their batch (never claimable, never re-sent blindly)
    # until the settler asks Infobip's logs.
    campaign, _ = _campaign(3)
    claimed = messages_claim(campaign_id=campaign.pk, limit=3)
    batch = claimed[0].batch_id
    messages_record_sent(
        campaign_id=campaign.pk,
        sent=[(row, PENDING, 1) for row in claimed[:2]],
        bulk_id="b",
        batch_id=batch,
    )
    assert SendBatch.objects.get(pk=batch).ids == [claimed[2].pk]
    assert SendBatch.objects.get(pk=batch).state == "claimed"
    assert _counts(campaign) == {"accepted": 2, "queued": 1}
    assert messages_claim(campaign_id=campaign.pk, limit=3, floor=0) == []
    assert messages_in_flight(campaign_id=campaign.pk) == 1


def test_an_answer_after_the_batch_was_released_still_records_it_forward_only() -> None:
    # The settler released the batch (logs did not know it yet); the slow answer then says
    # Infobip has the messages: that truth is applied, from whatever state the rows reached.
    campaign, _ = _campaign(2)
    claimed = messages_claim(campaign_id=campaign.pk, limit=2)
    assert _release(claimed, "not in Infobip's logs")
    messages_apply_outcomes(outcomes=[Outcome(claimed[0].message_id, "delivered")])
    record = messages_record_sent(
        campaign_id=campaign.pk,
        sent=[(row, PENDING, 1) for row in claimed],
        bulk_id="b",
        batch_id=claimed[0].batch_id,
    )
    assert record.applied == 1
    states = dict(Message.objects.filter(campaign=campaign).values_list("id", "state"))
    assert (states[claimed[0].pk], states[claimed[1].pk]) == ("delivered", "accepted")
    assert _counts(campaign) == {"accepted": 1, "delivered": 1}


def test_a_batch_released_after_a_cancel_skips_its_rows() -> None:
    # The cancel left the batch's rows to it; nothing reached Infobip, so they are skipped
    # (not left queued in a cancelled campaign).
    campaign, _ = _campaign(2)
    claimed = messages_claim(campaign_id=campaign.pk, limit=2)
    Campaign.objects.filter(pk=campaign.pk).update(state="cancelled", state_reason="stop")
    assert _release(claimed, "throttled")
    assert _counts(campaign) == {"skipped": 2}
    assert set(Message.objects.filter(campaign=campaign).values_list("reason", flat=True)) == {
        "stop"
    }


def test_rows_claimed_sending_before_batch_claims_are_still_recorded() -> None:
    campaign, messages = _campaign(2, state="sending")
    rows = [_claimed_row(m) for m in messages]
    record = messages_record_sent(
        campaign_id=campaign.pk, sent=[(row, PENDING, 1) for row in rows], bulk_id="b"
    )
    assert record.applied == 2
    assert _counts(campaign) == {"accepted": 2}


def _claimed_row(message: Message):
    from campaigns.ledger import Claimed

    return Claimed(
        message.pk,
        str(message.message_id),
        message.contact_id,
        message.phone,
        "sms",
        "",
        None,
        "",
        None,
        False,
        timezone.now(),
    )
