"""message.final outbox rows: one narrow row per message, the body read from the ledger."""

import json

import pytest
from standardwebhooks.webhooks import Webhook

from api.delivery import subscription_deliver
from api.models import DeliveryAttempt, EventDelivery
from tests.infobip.webhooks.conftest import make_ledger, path_of, report

pytestmark = pytest.mark.django_db


def _subscribe(api, url: str) -> dict:
    response = api.post("event-subscriptions", {"url": url, "events": ["message.final"]})
    assert response.status_code == 201, response.content
    return response.json()


def _ingest(client, messages, callbacks, **kwargs) -> None:
    from infobip.processing import events_process

    body = {"results": [report(str(m.message_id), **kwargs) for m in messages]}
    with callbacks(execute=False):
        response = client.post(
            path_of("sms/reports"), json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 200
        events_process(event_ids=[], coalesce=10)


def _expected(message) -> dict:
    message.refresh_from_db()
    return {
        "messageId": str(message.message_id),
        "campaignId": message.campaign_id,
        "to": message.phone,
        "channel": message.channel,
        "state": message.state,
        "status": {
            "groupName": message.status_group,
            "id": message.status_id,
            "name": message.status_name,
        },
        "error": {
            "groupName": message.error_group,
            "id": message.error_id,
            "name": message.error_name,
            "permanent": message.error_permanent,
        }
        if message.error_name
        else None,
        "reason": message.reason,
        "price": {"amount": str(message.price), "currency": message.currency},
        "parts": message.parts,
        "doneAt": message.done_at.isoformat(),
    }


def test_reports_store_one_bodyless_row_per_message_and_a_repush_stores_nothing(
    api_for, sender_user, webhook_sink, client, django_capture_on_commit_callbacks
) -> None:
    created = _subscribe(api_for(sender_user), webhook_sink.url())
    _campaign, messages = make_ledger(4)
    _ingest(client, messages, django_capture_on_commit_callbacks)
    _ingest(client, messages, django_capture_on_commit_callbacks)  # the same reports again
    rows = list(EventDelivery.objects.order_by("id"))
    assert len(rows) == 4
    assert {r.message for r in rows} == {m.pk for m in messages}
    assert all(r.payload is None and r.webhook_id is None and r.dedupe_key is None for r in rows)
    assert {r.subscription_id for r in rows} == {created["id"]}


def test_the_body_sent_is_the_ledger_rows_final_outcome_signed_with_a_stable_id(
    api_for, sender_user, webhook_sink, client, django_capture_on_commit_callbacks
) -> None:
    created = _subscribe(api_for(sender_user), webhook_sink.url())
    _campaign, messages = make_ledger(3)
    _ingest(
        client,
        messages,
        django_capture_on_commit_callbacks,
        status="UNDELIVERABLE_REJECTED_OPERATOR",
        error="EC_ABSENT_SUBSCRIBER",
    )
    webhook_sink.status = 500
    first = subscription_deliver(subscription_id=created["id"])
    assert first.failed == 3
    failed_ids = {headers["webhook-id"] for _p, headers, _b in webhook_sink.requests}
    EventDelivery.objects.update(next_attempt_at=None)
    webhook_sink.status = 200
    webhook_sink.requests.clear()
    assert subscription_deliver(subscription_id=created["id"]).delivered == 3
    by_id = {}
    for _path, headers, body in webhook_sink.requests:
        raw = json.dumps(body, separators=(",", ":"))
        signed = Webhook(created["secret"]).verify(raw, headers)
        assert signed["type"] == "message.final"
        by_id[signed["data"]["messageId"]] = (headers["webhook-id"], signed["data"])
    # The retry carries the same webhook-id as the failed attempt (receivers dedupe on it).
    assert {wid for wid, _ in by_id.values()} == failed_ids
    for message in messages:
        webhook_id, data = by_id[str(message.message_id)]
        assert data == _expected(message)
        assert data["state"] == "undeliverable"
        assert data["error"]["name"]
        assert webhook_id == f"msg_{message.message_id.hex}_{created['id']}"
    assert DeliveryAttempt.objects.filter(status_code=500).count() == 3
    assert DeliveryAttempt.objects.filter(status_code=200).count() == 3


def test_a_late_lower_report_does_not_change_what_a_queued_event_says(
    api_for, sender_user, webhook_sink, client, django_capture_on_commit_callbacks
) -> None:
    created = _subscribe(api_for(sender_user), webhook_sink.url())
    _campaign, (message,) = make_ledger(1)
    _ingest(client, [message], django_capture_on_commit_callbacks)
    queued = _expected(message)
    # A later, different final report for the same message (a final state never moves).
    _ingest(
        client, [message], django_capture_on_commit_callbacks, status="EXPIRED_EXPIRED", price=9.0
    )
    assert subscription_deliver(subscription_id=created["id"]).delivered == 1
    ((_path, _headers, body),) = webhook_sink.requests
    assert body["data"] == queued
    assert body["data"]["state"] == "delivered"


def test_an_event_whose_ledger_row_is_gone_gives_up_without_a_call(
    api_for, sender_user, webhook_sink, client, django_capture_on_commit_callbacks
) -> None:
    created = _subscribe(api_for(sender_user), webhook_sink.url())
    _campaign, messages = make_ledger(2)
    _ingest(client, messages, django_capture_on_commit_callbacks)
    gone_pk = messages[0].pk
    messages[0].delete()
    result = subscription_deliver(subscription_id=created["id"])
    assert (result.delivered, result.failed) == (1, 0)
    assert len(webhook_sink.requests) == 1
    gone = EventDelivery.objects.get(message=gone_pk)
    assert gone.state == "gave_up"
    assert "no longer in the ledger" in gone.tries.get().error


def test_the_deliveries_api_and_admin_show_the_body_and_id_as_sent(
    api_for, sender_user, admin_client, webhook_sink, client, django_capture_on_commit_callbacks
) -> None:
    api = api_for(sender_user)
    created = _subscribe(api, webhook_sink.url())
    _campaign, (message,) = make_ledger(1)
    _ingest(client, [message], django_capture_on_commit_callbacks)
    subscription_deliver(subscription_id=created["id"])
    ((_path, headers, body),) = webhook_sink.requests
    listed = api.get(f"event-subscriptions/{created['id']}/deliveries")
    assert listed.status_code == 200, listed.content
    (row,) = listed.json()["results"]
    assert row["payload"] == body["data"]
    assert row["webhook_id"] == headers["webhook-id"]
    assert [t["status_code"] for t in row["tries"]] == [200]
    delivery = EventDelivery.objects.get()
    page = admin_client.get(f"/admin/api/eventdelivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert headers["webhook-id"] in page.content.decode()
    assert str(message.message_id) in page.content.decode()
