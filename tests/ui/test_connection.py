"""The Infobip connection state: checked, told in plain words, on the dashboard and /healthz/."""

import json

import pytest
import responses
from django.urls import reverse

from infobip.health import infobip_connection_check
from tests.fixtures.provider import BASE_URL, provider_mocked

pytestmark = pytest.mark.django_db
mocked = provider_mocked


def _logs(status: int, body: dict):
    return {
        "method": responses.GET,
        "url": f"{BASE_URL}/sms/3/logs",
        "status": status,
        "body": json.dumps(body),
        "content_type": "application/json",
    }


def test_ok_then_invalid_key_then_missing_scope(mocked, marketer_client, client):
    mocked.add(**_logs(200, {"results": []}))
    assert infobip_connection_check().ok
    page = marketer_client.get(reverse("ui:dashboard")).content.decode()
    assert "Infobip connection: OK" in page
    assert client.get("/healthz/").json()["infobip"] == "sandbox"

    mocked.reset()
    mocked.add(
        **_logs(
            401,
            {
                "requestError": {
                    "serviceException": {
                        "messageId": "UNAUTHORIZED",
                        "text": "Invalid login details",
                    }
                }
            },
        )
    )
    state = infobip_connection_check()
    assert not state.ok
    assert "the API key is invalid (401)" in state.reason
    page = marketer_client.get(reverse("ui:dashboard")).content.decode()
    assert "Infobip connection: not working — the API key is invalid" in page
    health = client.get("/healthz/")
    assert health.status_code == 503  # Infobip is a part of Herald's health
    assert health.json()["infobip"] == "unauthorized"
    assert health.json()["infobip_check"] == {
        "ok": False,
        "reason": state.reason,
        "checked_at": state.checked_at.isoformat(),
    }

    mocked.reset()
    mocked.add(
        **_logs(
            403,
            {"requestError": {"serviceException": {"messageId": "FORBIDDEN", "text": "Forbidden"}}},
        )
    )
    assert "lacks a scope" in infobip_connection_check().reason


def test_unreachable_base_url(settings):
    from infobip.client import InfobipClient, set_client_factory

    client = InfobipClient("http://127.0.0.1:9", "k", max_retries=0, backoff_factor=0)
    set_client_factory(lambda: client)
    try:
        state = infobip_connection_check()
    finally:
        set_client_factory(None)
    assert not state.ok
    assert "is unreachable" in state.reason
