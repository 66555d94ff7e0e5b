"""Reports into the ledger: forward-only, idempotent, order-independent, exact at scale."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import Message, MessageEvent
from contacts.models import ConsentEvent, Contact
from infobip.models import PendingReport, WebhookEvent
from infobip.processing import pending_retry
from tests.infobip.webhooks.conftest import counts, make_ledger, report

pytestmark = pytest.mark.django_db

UTC = dt.UTC
FINALS = {
    "delivered": ("DELIVERED_TO_HANDSET", "NO_ERROR"),
    "undeliverable": ("UNDELIVERABLE_NOT_DELIVERED", "EC_UNKNOWN_SUBSCRIBER"),
    "expired": ("EXPIRED_EXPIRED", "EC_ABSENT_SUBSCRIBER"),
    "rejected": ("REJECTED_DESTINATION", "EC_INVALID_DESTINATION_ADDRESS"),
}


def test_duplicated_and_shuffled_reports_end_in_exactly_the_right_states(post) -> None:
    """2,000 messages, each with intermediate and final reports, every report pushed twice,
    all shuffled into pushes of 100, some whole pushes repeated: the ledger ends exact."""
    rng = random.Random(7)
    n = 2000
    campaign, messages = make_ledger(n)
    expected_state, expected_cost, items = {}, Decimal(0), []
    for i, message in enumerate(messages):
        mid = str(message.message_id)
        final = rng.choices(list(FINALS), weights=[80, 8, 7, 5])[0]
        price = Decimal("0.05") if final == "delivered" else Decimal(0)
        parts = 1 + i % 3
        expected_state[mid], expected_cost = final, expected_cost + price
        status, error = FINALS[final]
        done = f"2026-11-21T10:{i % 60:02d}:00.000+0000"
        items += [report(mid, "PENDING_ENROUTE", price=0.05, parts=parts, done_at=done)] * 2
        if final == "delivered":
            items += [report(mid, "DELIVERED_TO_OPERATOR", price=0.05, parts=parts)] * 2
        items += [report(mid, status, error=error, price=float(price), parts=parts)] * 2
    rng.shuffle(items)
    bodies = [{"results": items[i : i + 100]} for i in range(0, len(items), 100)]
    bodies += rng.sample(bodies, 10)  # whole pushes delivered twice
    for body in bodies:
        assert post("sms/reports", body).status_code == 200

    states = {str(mid): state for mid, state in Message.objects.values_list("message_id", "state")}
    assert states == expected_state
    expected_counts = {}
    for state in expected_state.values():
        expected_counts[state] = expected_counts.get(state, 0) + 1
    assert counts(campaign) == expected_counts
    assert campaign.cost_amount == expected_cost
    # One state change per message, no matter how many reports and copies arrived.
    assert MessageEvent.objects.filter(kind="state").count() == n
    assert WebhookEvent.objects.filter(status="duplicate").count() == 10
    assert WebhookEvent.objects.filter(status="processed").count() == len(bodies) - 10
    parts = dict(Message.objects.values_list("id", "parts"))
    assert all(parts[m.pk] == 1 + i % 3 for i, m in enumerate(messages))


def test_a_late_intermediate_report_is_recorded_but_never_moves_a_final_state(post) -> None:
    campaign, (message,) = make_ledger(1)
    mid = str(message.message_id)
    post("sms/reports", {"results": [report(mid, "DELIVERED_TO_HANDSET", price=0.05)]})
    post("sms/reports", {"results": [report(mid, "PENDING_ENROUTE", price=0.07)]})
    post("sms/reports", {"results": [report(mid, "UNDELIVERABLE_NOT_DELIVERED", price=0.0)]})
    message.refresh_from_db()
    assert (message.state, message.status_name, message.price) == (
        "delivered",
        "DELIVERED_TO_HANDSET",
        Decimal("0.05"),
    )
    assert counts(campaign) == {"delivered": 1}
    assert campaign.cost_amount == Decimal("0.05")
    events = list(MessageEvent.objects.filter(message=message).values_list("kind", "status_name"))
    assert events == [
        ("state", "DELIVERED_TO_HANDSET"),
        ("report", "PENDING_ENROUTE"),
        ("report", "UNDELIVERABLE_NOT_DELIVERED"),
    ]


@pytest.mark.parametrize(
    ("done_at", "expected"),
    [
        ("2026-11-21T10:00:00.000+0000", dt.datetime(2026, 11, 21, 10, 0, tzinfo=UTC)),
        ("2026-11-21T10:00:00.000-0300", dt.datetime(2026, 11, 21, 13, 0, tzinfo=UTC)),
        ("2026-11-21T10:00:00.123Z", dt.datetime(2026, 11, 21, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2026-11-21T10:00:00+05:30", dt.datetime(2026, 11, 21, 4, 30, tzinfo=UTC)),
    ],
)
def test_timestamps_with_any_offset_land_in_utc(post, done_at, expected) -> None:
    _, (message,) = make_ledger(1)
    post("sms/reports", {"results": [report(str(message.message_id), done_at=done_at)]})
    message.refresh_from_db()
    assert message.done_at == expected


def test_mixed_casing_of_keys_and_values_is_understood(post) -> None:
    _, (message,) = make_ledger(1)
    item = {
        "MESSAGEID": str(message.message_id).upper(),
        "Status": {
            "GROUPID": 2,
            "GroupName": "undeliverable",
            "ID": 9,
            "Name": "undeliverable_not_delivered",
        },
        "ERROR": {
            "groupid": 1,
            "groupName": "Handset_Errors",
            "id": 1,
            "name": "ec_unknown_subscriber",
            "Permanent": "TRUE",
        },
        "Price": {"PricePerMessage": "0.0300", "Currency": "eur"},
        "SmsCount": 2,
        "DoneAt": "2026-11-21T10:00:00.000Z",
    }
    assert post("sms/reports", {"RESULTS": [item]}).status_code == 200
    message.refresh_from_db()
    assert message.state == "undeliverable"
    assert (message.status_id, message.status_name) == (9, "UNDELIVERABLE_NOT_DELIVERED")
    assert (message.error_name, message.error_permanent) == ("EC_UNKNOWN_SUBSCRIBER", True)
    # A v2-shaped report (SmsCount) prices one part ("Price per one SMS"): 2 parts × 0.03.
    assert (message.price, message.currency, message.parts) == (Decimal("0.06"), "EUR", 2)


def test_a_report_without_optional_fields_still_applies(post) -> None:
    campaign, (message,) = make_ledger(1)
    before = timezone.now()
    body = {"results": [{"messageId": str(message.message_id), "status": {"groupId": 4}}]}
    assert post("sms/reports", body).status_code == 200
    message.refresh_from_db()
    assert message.state == "expired"
    assert (message.price, message.error_name, message.parts) == (None, "", 1)
    assert message.done_at >= before
    assert counts(campaign) == {"expired": 1}
    assert campaign.cost_amount == 0


def test_delivered_to_operator_is_not_final(post) -> None:
    _, (message,) = make_ledger(1)
    post("sms/reports", {"results": [report(str(message.message_id), "DELIVERED_TO_OPERATOR")]})
    message.refresh_from_db()
    assert message.state == "accepted"
    event = MessageEvent.objects.get(message=message)
    assert (event.kind, event.status_name) == ("report", "DELIVERED_TO_OPERATOR")


def test_reports_for_unknown_messages_are_retried_then_flagged(post) -> None:
    import uuid

    early, late = str(uuid.uuid4()), str(uuid.uuid4())
    post("sms/reports", {"results": [report(early), report(late)]})
    assert PendingReport.objects.filter(flagged=False).count() == 2
    # The ledger row for one of them appears (e.g. written by another process): it resolves.
    campaign, (message,) = make_ledger(1)
    Message.objects.filter(pk=message.pk).update(message_id=early)
    now = timezone.now()
    assert pending_retry(now=now + dt.timedelta(minutes=1)) == (1, 0)
    assert Message.objects.get(pk=message.pk).state == "delivered"
    assert counts(campaign) == {"delivered": 1}
    left = PendingReport.objects.get()
    assert (left.message_id, left.attempts, left.flagged) == (late, 1, False)
    assert left.next_attempt_at > now + dt.timedelta(minutes=1)
    # Not yet due: nothing happens. After the retry window: flagged for a human.
    assert pending_retry(now=now + dt.timedelta(minutes=1, seconds=5)) == (0, 0)
    assert pending_retry(now=now + dt.timedelta(hours=2)) == (0, 1)
    assert PendingReport.objects.get().flagged is True


def test_blocking_provider_errors_opt_the_contact_out_and_skip_their_queue(post) -> None:
    _campaign, (message,) = make_ledger(1)
    other_campaign, (queued,) = make_ledger(1, state="queued")
    assert queued.contact_id == message.contact_id
    item = report(str(message.message_id), price=0.0)
    item["status"] = {
        "groupId": 5,
        "groupName": "REJECTED",
        "id": 10,
        "name": "REJECTED_DND",
        "description": "Do not disturb",
    }
    post("sms/reports", {"results": [item]})
    contact = Contact.objects.get(pk=message.contact_id)
    assert contact.opted_out is True
    assert (contact.opted_out_source, contact.opted_out_channel) == ("provider_error", "sms")
    event = ConsentEvent.objects.get(contact=contact)
    assert event.note == "Infobip reported REJECTED_DND"
    assert Message.objects.get(pk=queued.pk).state == "skipped"
    assert counts(other_campaign) == {"skipped": 1}
    # The same report again changes nothing (no second consent event).
    post("sms/reports", {"results": [item]})
    assert ConsentEvent.objects.filter(contact=contact).count() == 1


def test_an_ordinary_failure_does_not_opt_anyone_out(post) -> None:
    _, (message,) = make_ledger(1)
    status, error = FINALS["undeliverable"]
    post("sms/reports", {"results": [report(str(message.message_id), status, error=error)]})
    assert Contact.objects.get(pk=message.contact_id).opted_out is False


def test_whatsapp_marketing_opt_out_error_feeds_the_suppression(post) -> None:
    _, (message,) = make_ledger(1, channel="whatsapp")
    item = report(str(message.message_id), "UNDELIVERABLE_NOT_DELIVERED")
    item["error"] = {
        "groupId": 1,
        "groupName": "HANDSET_ERRORS",
        "id": 7033,
        "name": "EC_MARKETING_OPT_OUT",
        "permanent": True,
    }
    post("whatsapp/reports", {"results": [item]})
    contact = Contact.objects.get(pk=message.contact_id)
    assert (contact.opted_out, contact.opted_out_channel) == (True, "whatsapp")


def test_an_undeliverable_whatsapp_report_queues_the_sms_failover(post) -> None:
    campaign, messages = make_ledger(
        2,
        channel="whatsapp",
        campaign_state="paused",  # nothing is sent in this test: only the ledger is checked
        failover_mode="herald",
        failover_text="Sorry we missed you on WhatsApp",
    )
    status, error = FINALS["undeliverable"]
    body = {
        "results": [
            report(str(messages[0].message_id), status, error=error),
            report(str(messages[1].message_id), "DELIVERED_TO_HANDSET"),
        ]
    }
    post("whatsapp/reports", body)
    failover = Message.objects.get(replaces=messages[0])
    assert (failover.channel, failover.state) == ("sms", "queued")
    assert failover.text == "Sorry we missed you on WhatsApp"
    assert not Message.objects.filter(replaces=messages[1]).exists()
    # The same push again: still exactly one failover.
    post("whatsapp/reports", body)
    assert Message.objects.filter(replaces__isnull=False).count() == 1
    assert counts(campaign) == {"undeliverable": 1, "delivered": 1, "queued": 1}


def test_a_report_item_that_cannot_be_parsed_does_not_block_the_rest(post) -> None:
    _, messages = make_ledger(2)
    broken = report(str(messages[0].message_id))
    broken["sentAt"] = 10**20  # epoch milliseconds far beyond any date
    body = {"results": [broken, report(str(messages[1].message_id))]}
    assert post("sms/reports", body).status_code == 200
    assert WebhookEvent.objects.get().status == "processed"
    assert Message.objects.get(pk=messages[1].pk).state == "delivered"
