"""Admin: a token created there shows its secret once; deliveries can be replayed."""

import pytest
from django.contrib.auth.models import User

from api.models import ApiToken, EventDelivery, EventSubscription
from api.tokens import token_hash

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = User.objects.create_superuser("root", password="pw-not-used")
    client.force_login(admin)
    return client, admin


def test_a_token_added_in_the_admin_is_hashed_and_shown_once(admin_client) -> None:
    client, admin = admin_client
    response = client.post(
        "/admin/api/apitoken/add/",
        {"user": admin.pk, "name": "crm", "scopes": '["read", "contacts:write"]'},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get()
    text = response.content.decode()
    secret = text.split("it is not shown again: ")[1].split("<")[0].strip()
    assert token.key_hash == token_hash(secret)
    assert token.scopes == ["read", "contacts:write"]
    assert secret not in client.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()


def test_replay_from_the_admin_sends_a_delivered_event_again(
    admin_client, webhook_sink, django_capture_on_commit_callbacks
) -> None:
    client, _ = admin_client
    subscription = EventSubscription.objects.create(
        url=webhook_sink.url(), events=["inbound.received"], secret="whsec_" + "QUJD" * 8
    )
    delivery = EventDelivery.objects.create(
        subscription=subscription,
        event_type="inbound.received",
        webhook_id="msg_1",
        dedupe_key="x",
        payload={"text": "hi"},
        state="delivered",
        attempts=1,
    )

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/api/eventdelivery/",
            {"action": "replay", "_selected_action": [delivery.pk]},
            follow=True,
        )
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    ((_, headers, body),) = webhook_sink.requests
    assert headers["webhook-id"] == "msg_1"  # the same event, so receivers can dedupe
    assert body["data"] == {"text": "hi"}
