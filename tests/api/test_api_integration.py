"""End to end on PostgreSQL with a real worker: send through the API, get signed outcomes.

The live server receives the sandbox's delivery reports; the worker sends, applies the reports
and delivers `message.final` events to a local receiver.
"""

import json

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from api.tokens import api_token_create
from tests.api.conftest import ALL_SCOPES
from tests.fixtures.worker import wait_for

pytestmark = pytest.mark.integration


def test_messages_sent_through_the_api_come_back_as_signed_final_events(
    celery_worker, sandbox, engine_settings, live_server, webhook_sink, django_user_model
) -> None:
    user = django_user_model.objects.create_superuser("ops", password="not-used-here")
    _, secret = api_token_create(user=user, scopes=ALL_SCOPES)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {secret}"
    base = live_server.url + "/api/v1/"
    created = http.post(
        base + "event-subscriptions",
        json={"url": webhook_sink.url("/final"), "events": ["message.final"]},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    to = [f"+4479460{i:05d}" for i in range(30)]
    body = {"channel": "sms", "sender": "Shop", "to": to, "text": "Your code is 1234"}
    key = {"Idempotency-Key": "e2e-1"}
    first = http.post(base + "messages", json=body, headers=key, timeout=30)
    again = http.post(base + "messages", json=body, headers=key, timeout=30)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    ids = {m["messageId"] for m in first.json()["messages"]}
    wait_for(
        lambda: sandbox.state()["accepted"]["total"] == 30, timeout=60, message=celery_worker.tail()
    )
    sandbox.flush()
    events = wait_for(
        lambda: len(webhook_sink.bodies("/final")) >= 30 and webhook_sink.requests,
        timeout=90,
        message=celery_worker.tail(),
    )
    verifier = Webhook(created.json()["secret"])
    for _, headers, payload in events:
        verifier.verify(json.dumps(payload, separators=(",", ":")), headers)
    finals = {b["data"]["messageId"] for b in webhook_sink.bodies("/final")}
    assert finals == ids
    state = sandbox.state()
    assert state["accepted"]["total"] == 30  # the retried call sent nothing
    assert state["duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
