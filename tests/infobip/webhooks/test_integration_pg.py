"""Webhooks on PostgreSQL: report application at scale, a real outage, hostile bodies, and the
whole loop with a real worker (sandbox → live server → stored → Redis → worker → ledger)."""

import json
import random
from decimal import Decimal

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from campaigns.models import Campaign, Message, MessageEvent
from campaigns.services import campaign_create, campaign_launch
from contacts.models import Contact
from core.rules import OPERATOR
from infobip.links import WEBHOOK_KINDS, webhook_url
from infobip.models import EventStatus, InboundMessage, WebhookEvent
from infobip.processing import events_backlog, events_process
from tests.campaigns.conftest import make_audience
from tests.fixtures.worker import require_real_engines, wait_for
from tests.infobip.webhooks.conftest import counts, make_ledger, path_of, report
from tests.infobip.webhooks.test_fuzz import bodies

pytestmark = pytest.mark.integration

FINALS = [
    ("DELIVERED_TO_HANDSET", "NO_ERROR", "delivered", Decimal("0.0050")),
    ("UNDELIVERABLE_NOT_DELIVERED", "EC_UNKNOWN_SUBSCRIBER", "undeliverable", Decimal(0)),
    ("EXPIRED_EXPIRED", "EC_ABSENT_SUBSCRIBER", "expired", Decimal(0)),
    ("REJECTED_DESTINATION", "EC_INVALID_DESTINATION_ADDRESS", "rejected", Decimal(0)),
]


@pytest.fixture(autouse=True)
def _real_engines() -> None:
    require_real_engines()


@pytest.mark.django_db
def test_ten_thousand_messages_with_duplicated_shuffled_reports_end_exact(client) -> None:
    rng = random.Random(11)
    n = 10_000
    campaign, messages = make_ledger(n)
    expected, cost, items = {}, Decimal(0), []
    for message in messages:
        mid = str(message.message_id)
        status, error, state, price = rng.choices(FINALS, weights=[85, 7, 5, 3])[0]
        expected[mid], cost = state, cost + price
        items += [report(mid, "PENDING_ENROUTE", price=0.005)] * 2
        items += [report(mid, status, error=error, price=float(price))] * 2
    rng.shuffle(items)
    for start in range(0, len(items), 100):
        body = json.dumps({"results": items[start : start + 100]})
        response = client.post(path_of("sms/reports"), data=body, content_type="application/json")
        assert response.status_code == 200
    # What the worker does: waiting events in batches, one ledger write per batch.
    assert events_backlog(older_than=0).events == len(items) // 100
    states = {str(mid): s for mid, s in Message.objects.values_list("message_id", "state")}
    assert states == expected
    tally: dict[str, int] = {}
    for state in expected.values():
        tally[state] = tally.get(state, 0) + 1
    assert counts(campaign) == tally
    assert campaign.cost_amount == cost
    assert MessageEvent.objects.filter(kind="state").count() == n


@pytest.mark.django_db
def test_hostile_bodies_never_500_nor_break_processing_on_postgresql(client) -> None:
    """NUL characters, huge numbers, long strings: none is a 500 or breaks processing."""
    _, messages = make_ledger(5, channel="whatsapp")
    ids = [str(m.message_id) for m in messages]

    def post(kind: str, body) -> object:
        # Stored by the view, then processed here (this run's Celery is not eager).
        data = body if isinstance(body, bytes) else json.dumps(body)
        response = client.post(path_of(kind), data=data, content_type="application/json")
        if response.status_code == 200:
            events_process(event_ids=[WebhookEvent.objects.latest("id").pk])
        return response

    @hsettings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(kind=st.sampled_from(WEBHOOK_KINDS), body=bodies(ids))
    def check(kind, body) -> None:
        response = post(kind, json.dumps(body).encode())
        assert response.status_code in (200, 400)
        if response.status_code == 200:
            stored = WebhookEvent.objects.latest("id")
            assert stored.status in (EventStatus.PROCESSED, EventStatus.DUPLICATE), stored.error

    check()
    nul = {
        "results": [
            {
                "messageId": "in\x00",
                "from": "447946000001\x00",
                "text": "ST\x00OP",
                "message": {"type": "TEXT\x00", "text": "\x00"},
            }
        ]
    }
    for kind in ("sms/inbound", "whatsapp/inbound"):
        assert post(kind, nul).status_code == 200
        assert WebhookEvent.objects.latest("id").status == EventStatus.PROCESSED


@pytest.fixture
def loop(celery_worker, sandbox, engine_settings):
    """A real worker; the sandbox pushes to this test's live server, which stores and enqueues."""
    sandbox.configure(
        intermediate=True,
        shuffle_pushes=True,
        duplicate_pushes=0.5,
        push_batch=25,
        outcomes={"delivered": 0.8, "undeliverable": 0.1, "expired": 0.05, "rejected": 0.05},
    )
    return celery_worker, sandbox


def _finished(campaign_id: int, n: int) -> bool:
    campaign = Campaign.objects.get(pk=campaign_id)
    settled = sum(
        v for k, v in campaign.counts.items() if k not in ("queued", "sending", "accepted")
    )
    return settled == n


def test_the_whole_loop_with_a_real_worker(loop) -> None:
    worker, sandbox = loop
    assert webhook_url("sms/reports").startswith(settings.PUBLIC_BASE_URL)
    n = 400
    campaign = campaign_create(
        name="loop", channel="sms", lists=[make_audience(n, name="loop")], text="Hi"
    )
    campaign_launch(campaign=campaign, actor=OPERATOR)
    wait_for(lambda: _finished(campaign.pk, n), timeout=120, message=worker.tail())
    truth = {}
    for message in Message.objects.filter(campaign=campaign):
        known = sandbox.truth(str(message.message_id))
        assert known is not None, f"the sandbox never saw message {message.pk}"
        truth[message.pk] = known["outcome"]
        assert message.state == truth[message.pk]
    campaign.refresh_from_db()
    expected = {}
    for outcome in truth.values():
        expected[outcome] = expected.get(outcome, 0) + 1
    assert {k: v for k, v in campaign.counts.items() if v} == expected
    assert sandbox.flush() == 0
    state = sandbox.state()
    assert state["duplicates"]["messageId"] == 0
    pushes = state["reports"]
    assert pushes["duplicatePushes"] > 0
    assert pushes["pushFailures"] == pushes["abandoned"] == 0
    # One stored row per push, duplicates included; all processed by the worker, none failed.
    wait_for(
        lambda: not WebhookEvent.objects.filter(status=EventStatus.RECEIVED).exists(),
        timeout=30,
        message=worker.tail(),
    )
    assert WebhookEvent.objects.filter(kind="sms_reports").count() == pushes["pushRequests"]
    assert not WebhookEvent.objects.exclude(
        status__in=[EventStatus.PROCESSED, EventStatus.DUPLICATE]
    ).exists()

    # A STOP pushed by the sandbox: stored, processed by the worker, confirmed by SMS.
    phone = Message.objects.filter(campaign=campaign).first().phone
    sandbox.inbound(
        "sms", phone[1:], "Stop please", to="447860099299", url=webhook_url("sms/inbound")
    )
    wait_for(
        lambda: InboundMessage.objects.filter(reply_status="sent").exists(),
        timeout=30,
        message=worker.tail(),
    )
    assert Contact.objects.get(phone=phone).opted_out is True
