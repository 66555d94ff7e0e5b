"""Outbound events: signed per Standard Webhooks, retried with backoff, filtered, in bulk."""

import datetime as dt
import json

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from api.delivery import UnsafeUrlError, receiver_url_check, subscription_deliver
from api.models import DeliveryAttempt, EventDelivery, EventSubscription
from contacts.models import Contact
from contacts.services import contact_opt_out
from tests.infobip.webhooks.conftest import path_of

pytestmark = pytest.mark.django_db

OUR_NUMBER = "447860099299"


def inbound_sms(text: str, *, to: str = OUR_NUMBER, message_id: str = "in-1") -> dict:
    at = "2026-11-21T10:00:00.000+0000"
    item = {
        "messageId": message_id,
        "from": "447946000001",
        "to": to,
        "text": text,
        "cleanText": text,
        "receivedAt": at,
        "smsCount": 1,
    }
    return {"results": [item], "messageCount": 1, "pendingMessageCount": 0}


@pytest.fixture
def push(client, django_capture_on_commit_callbacks):
    """POST an Infobip push to Herald's webhook and run what it enqueues."""

    def do(kind: str, body: dict):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(path_of(kind), json.dumps(body), content_type="application/json")
        assert response.status_code == 200
        return response

    return do


def _subscribe(api, url: str, events: list[str], **filters) -> dict:
    response = api.post("event-subscriptions", {"url": url, "events": events, "filters": filters})
    assert response.status_code == 201, response.content
    return response.json()


def test_a_delivery_is_signed_and_verifies_with_standardwebhooks(
    api_for, sender_user, webhook_sink, push
) -> None:
    created = _subscribe(api_for(sender_user), webhook_sink.url("/in"), ["inbound.received"])
    assert created["secret"].startswith("whsec_")
    push("sms/inbound", inbound_sms("Hello there"))
    ((_path, headers, body),) = webhook_sink.requests
    raw = json.dumps(body, separators=(",", ":"))
    payload = Webhook(created["secret"]).verify(raw, headers)
    assert payload["type"] == "inbound.received"
    assert payload["data"]["text"] == "Hello there"
    assert payload["data"]["to"] == OUR_NUMBER
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 32).verify(raw, headers)
    delivery = EventDelivery.objects.get()
    assert headers["webhook-id"] == delivery.webhook_id
    assert delivery.state == "delivered"
    assert DeliveryAttempt.objects.get().status_code == 200


def test_a_receiver_answering_500_three_times_gets_it_again_each_time_then_once_accepted(
    api_for, sender_user, webhook_sink, push
) -> None:
    created = _subscribe(api_for(sender_user), webhook_sink.url(), ["inbound.received"])
    webhook_sink.status = 500
    push("sms/inbound", inbound_sms("one"))  # the first attempt, at once (eager)
    delivery = EventDelivery.objects.get()
    now = timezone.now()
    for retry in range(1, 3):
        delivery.refresh_from_db()
        too_early = subscription_deliver(subscription_id=created["id"], now=now)
        assert too_early.delivered == 0
        assert len(webhook_sink.requests) == retry  # backoff: nothing before it is due
        now = delivery.next_attempt_at + dt.timedelta(seconds=1)
        assert subscription_deliver(subscription_id=created["id"], now=now).failed == 1
        delivery.refresh_from_db()
        # Exponential backoff: 5 s after the first failure, 10 s after the second, 20 s…
        assert (delivery.next_attempt_at - now).total_seconds() == 5 * 2**retry
    assert len(webhook_sink.requests) == 3
    webhook_sink.status = 200
    delivery.refresh_from_db()
    result = subscription_deliver(
        subscription_id=created["id"], now=delivery.next_attempt_at + dt.timedelta(seconds=1)
    )
    assert result.delivered == 1
    assert len(webhook_sink.requests) == 4
    assert len({h["webhook-id"] for _, h, _ in webhook_sink.requests}) == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 4)
    codes = list(DeliveryAttempt.objects.order_by("id").values_list("status_code", flat=True))
    assert codes == [500, 500, 500, 200]
    assert subscription_deliver(subscription_id=created["id"]).delivered == 0
    assert len(webhook_sink.requests) == 4  # accepted once, never again
    assert EventSubscription.objects.get().failing_since is None


def test_inbound_filters_deliver_the_match_and_not_the_rest(
    api_for, sender_user, webhook_sink, push
) -> None:
    _subscribe(
        api_for(sender_user),
        webhook_sink.url(),
        ["inbound.received"],
        number="+447860099299",
        keyword="order",
    )
    push("sms/inbound", inbound_sms("ORDER 1234 please", message_id="a"))
    push("sms/inbound", inbound_sms("hello", message_id="b"))
    push("sms/inbound", inbound_sms("ORDER 99", to="447860000000", message_id="c"))
    bodies = webhook_sink.bodies()
    assert [b["data"]["messageId"] for b in bodies] == ["a"]
    assert EventDelivery.objects.count() == 1
    push("sms/inbound", inbound_sms("ORDER 1234 please", message_id="a"))  # re-pushed
    assert EventDelivery.objects.count() == 1


def test_message_final_carries_the_outcome_in_one_insert_per_batch(
    api_for, sender_user, webhook_sink, live_sandbox, django_capture_on_commit_callbacks
) -> None:
    api = api_for(sender_user)
    _subscribe(api, webhook_sink.url(), ["message.final"])
    to = [f"+4479460000{i:02d}" for i in range(5)]
    sent = api.post("messages", {"channel": "sms", "to": to, "text": "Hi"}).json()["messages"]
    assert live_sandbox.flush() == 0
    # The sandbox pushed its reports nowhere (no live server here): apply them as a pull does.
    from campaigns.tasks import reconcile_reports

    with django_capture_on_commit_callbacks(execute=True):
        reconcile_reports()
    finals = {b["data"]["messageId"]: b["data"] for b in webhook_sink.bodies()}
    assert set(finals) == {m["messageId"] for m in sent}
    one = next(iter(finals.values()))
    assert one["state"] in {"delivered", "undeliverable", "expired", "rejected"}
    assert one["status"]["name"]
    assert {b["type"] for b in webhook_sink.bodies()} == {"message.final"}


def test_opt_outs_are_events_and_nobody_subscribed_costs_nothing(
    api_for, sender_user, webhook_sink, django_assert_num_queries
) -> None:
    contact = Contact.objects.create(phone="+447911123456")
    # The opt-out's own queries + 1 subscriptions lookup + 1 probe for segment-triggered
    # journeys (consent can change who matches a segment).
    with django_assert_num_queries(8):
        contact_opt_out(contact=contact, source="api")
    contact_opt_out(contact=contact, source="api")
    _subscribe(api_for(sender_user), webhook_sink.url(), ["contact.opted_out"])
    other = Contact.objects.create(phone="+447911123457")
    api = api_for(sender_user)
    assert api.post(f"contacts/{other.pk}/opt-out").status_code == 200
    (body,) = webhook_sink.bodies()
    assert (body["type"], body["data"]["phone"]) == ("contact.opted_out", "+447911123457")


def test_private_receivers_are_refused_unless_allowed(settings, api_for, sender_user) -> None:
    settings.HERALD_EVENTS_ALLOW_PRIVATE = False
    for url in ("http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://[::1]/x", "ftp://x.org/"):
        with pytest.raises(UnsafeUrlError):
            receiver_url_check(url)
    response = api_for(sender_user).post(
        "event-subscriptions", {"url": "http://127.0.0.1:9/x", "events": ["message.final"]}
    )
    assert response.status_code == 400
    assert "non-public" in response.json()["error"]["message"]


def test_a_subscription_failing_for_days_is_disabled_with_a_notice(
    api_for, sender_user, webhook_sink, push, settings
) -> None:
    created = _subscribe(api_for(sender_user), webhook_sink.url(), ["inbound.received"])
    webhook_sink.status = 503
    push("sms/inbound", inbound_sms("one"))
    subscription = EventSubscription.objects.get()
    assert subscription.failing_since is not None
    later = subscription.failing_since + dt.timedelta(
        seconds=settings.HERALD_EVENTS_DISABLE_AFTER + 1
    )
    subscription_deliver(subscription_id=created["id"], now=later)
    subscription.refresh_from_db()
    assert subscription.enabled is False
    assert "failing since" in subscription.disabled_reason
    assert "HTTP 503" in subscription.disabled_reason


def _finals(subscription_id: int, n: int) -> list[EventDelivery]:
    return EventDelivery.objects.bulk_create(
        EventDelivery(
            subscription_id=subscription_id,
            event_type="message.final",
            webhook_id=f"msg_{i:032x}",
            dedupe_key=f"message.final:{i}",
            payload={"messageId": str(i), "state": "delivered"},
        )
        for i in range(n)
    )


def test_message_final_events_go_out_in_concurrent_waves_each_signed_once(
    api_for, sender_user, webhook_sink
) -> None:
    from api.delivery import WAVE

    created = _subscribe(api_for(sender_user), webhook_sink.url(), ["message.final"])
    _finals(created["id"], WAVE + 6)
    result = subscription_deliver(subscription_id=created["id"])
    assert (result.delivered, result.failed, result.more) == (WAVE + 6, 0, False)
    assert len(webhook_sink.requests) == WAVE + 6
    ids = set()
    for _path, headers, body in webhook_sink.requests:
        Webhook(created["secret"]).verify(json.dumps(body, separators=(",", ":")), headers)
        ids.add(headers["webhook-id"])
    assert len(ids) == WAVE + 6
    assert set(EventDelivery.objects.values_list("state", flat=True)) == {"delivered"}
    assert DeliveryAttempt.objects.filter(status_code=200).count() == WAVE + 6
    assert subscription_deliver(subscription_id=created["id"]).delivered == 0


def test_a_dead_receiver_costs_one_wave_then_waits_for_its_retry(
    api_for, sender_user, webhook_sink
) -> None:
    from api.delivery import WAVE

    created = _subscribe(api_for(sender_user), webhook_sink.url(), ["message.final"])
    webhook_sink.status = 503
    _finals(created["id"], WAVE + 6)
    result = subscription_deliver(subscription_id=created["id"])
    assert (result.delivered, result.failed) == (0, WAVE)
    assert result.retry_at is not None
    assert len(webhook_sink.requests) == WAVE  # the rest was not tried after a failing wave
    tried = EventDelivery.objects.filter(attempts=1)
    assert tried.count() == WAVE
    assert EventDelivery.objects.filter(attempts=0, state="pending").count() == 6
    assert EventSubscription.objects.get().failing_since is not None
    # Not due yet: nothing more is sent until the backoff has passed.
    assert subscription_deliver(subscription_id=created["id"]).delivered == 0
    assert len(webhook_sink.requests) == WAVE


def test_report_ingestion_stores_events_and_never_calls_the_receiver(
    api_for, sender_user, webhook_sink, client, django_capture_on_commit_callbacks
) -> None:
    from infobip.processing import events_process
    from tests.infobip.webhooks.conftest import make_ledger, report

    _subscribe(api_for(sender_user), webhook_sink.url(), ["message.final"])
    webhook_sink.status = 500  # a receiver that is down
    campaign, messages = make_ledger(3)
    body = {"results": [report(str(m.message_id)) for m in messages]}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            path_of("sms/reports"), json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 200
        events_process(event_ids=[], coalesce=10)
    campaign.refresh_from_db()
    assert campaign.count_delivered == 3
    assert EventDelivery.objects.filter(state="pending").count() == 3
    # The report path stored the events and enqueued a deliverer; it made no HTTP call.
    assert webhook_sink.requests == []
    assert callbacks  # the processing enqueue and the deliverer's, run after the commit


def test_delivery_steps_back_while_pushes_wait_and_one_hold_at_a_time(
    api_for, sender_user, webhook_sink, client, django_capture_on_commit_callbacks
) -> None:
    from api.delivery import delivery_defer, ingestion_busy

    created = _subscribe(api_for(sender_user), webhook_sink.url(), ["message.final"])
    assert ingestion_busy() is False
    with django_capture_on_commit_callbacks(execute=False):
        client.post(
            path_of("sms/reports"), json.dumps({"results": []}), content_type="application/json"
        )
    assert ingestion_busy() is True  # a stored push not processed yet
    assert delivery_defer(subscription_id=created["id"], seconds=5) is True
    assert delivery_defer(subscription_id=created["id"], seconds=5) is False  # already held
    _finals(created["id"], 2)
    assert subscription_deliver(subscription_id=created["id"]).busy is True
    assert webhook_sink.requests == []


def test_a_run_stops_after_the_wave_in_flight_when_asked_to_yield(
    api_for, sender_user, webhook_sink
) -> None:
    from api.delivery import WAVE

    created = _subscribe(api_for(sender_user), webhook_sink.url(), ["message.final"])
    _finals(created["id"], WAVE + 6)
    result = subscription_deliver(subscription_id=created["id"], yield_to=lambda: True)
    assert (result.delivered, result.more) == (WAVE, True)
    assert EventDelivery.objects.filter(state="pending", attempts=0).count() == 6
    assert subscription_deliver(subscription_id=created["id"]).delivered == 6
