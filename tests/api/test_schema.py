"""The committed OpenAPI document is the one served; the error shape is in it."""

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.django_db

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def test_the_committed_openapi_document_is_the_served_one(client) -> None:
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    served = yaml.safe_load(response.content)
    committed = yaml.safe_load(COMMITTED.read_text())
    assert served == committed, (
        "docs/openapi.yaml is stale: run `python manage.py spectacular --file docs/openapi.yaml`"
    )
    assert served["openapi"].startswith("3.")
    assert "/api/v1/messages" in served["paths"]
    assert served["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert set(served["components"]["schemas"]["Error"]["properties"]) == {"error"}


def test_the_api_root_lists_the_entry_points(client) -> None:
    body = client.get("/api/v1/", HTTP_ACCEPT="application/json").json()
    assert body["schema"].endswith("/api/v1/schema/")
    assert body["messages"].endswith("/api/v1/messages")


def test_the_api_page_creates_a_token_shown_once_and_revokes_it(client, sender_user) -> None:
    from api.models import ApiToken
    from api.tokens import token_hash

    client.force_login(sender_user)
    page = client.get("/settings/api/")
    assert page.status_code == 200
    assert b'href="/settings/api/"' in page.content  # linked from the nav
    created = client.post(
        "/settings/api/", {"action": "create_token", "name": "crm", "scopes": ["read"]}
    )
    token = ApiToken.objects.get()
    secret = created.content.decode().split('<code id="new-token">')[1].split("<")[0]
    assert token.key_hash == token_hash(secret)
    assert secret not in client.get("/settings/api/").content.decode()
    refused = client.post("/settings/api/", {"action": "create_token", "scopes": ["root"]})
    assert refused.status_code == 400
    client.post("/settings/api/", {"action": "revoke_token", "token": token.pk})
    token.refresh_from_db()
    assert token.revoked_at is not None


def _document() -> dict:
    return yaml.safe_load(COMMITTED.read_text())


def test_each_operation_names_its_scope_and_every_status_it_can_answer() -> None:
    document = _document()
    assert document["openapi"] == "3.1.0"
    operations = {
        (method, path): op
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    for (method, path), op in operations.items():
        assert op.get("x-scope"), (method, path)
        assert op["security"][0] == {"bearerAuth": [op["x-scope"]]}
        assert f"Scope: `{op['x-scope']}`" in op["description"]
        assert {"401", "403", "429", "500", "503"} <= set(op["responses"]), (method, path)
        assert "Retry-After" in op["responses"]["503"]["headers"]
        if method in ("post", "patch"):
            assert {"400", "413", "415"} <= set(op["responses"]), (method, path)
    assert operations[("post", "/api/v1/messages")]["x-scope"] == "messages:send"
    assert "422" in operations[("post", "/api/v1/messages")]["responses"]
    assert operations[("get", "/api/v1/event-subscriptions")]["x-scope"] == "events:manage"
    assert operations[("post", "/api/v1/campaigns/{id}/launch")]["x-scope"] == "campaigns:send"
    assert operations[("get", "/api/v1/contacts")]["x-scope"] == "read"


def test_every_outbound_event_is_a_webhook_whose_schema_its_bodies_meet() -> None:
    import jsonschema

    from api.emit import final_event_data
    from api.models import EventType

    webhooks = _document()["webhooks"]
    assert set(webhooks) == set(EventType.values)
    body_schema = webhooks["message.final"]["post"]["requestBody"]["content"]["application/json"]
    row = {
        "id": 1,
        "message_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "campaign_id": 7,
        "phone": "+41793026727",
        "channel": "sms",
        "state": "delivered",
        "status_group": "DELIVERED",
        "status_id": 5,
        "status_name": "DELIVERED_TO_HANDSET",
        "error_group": None,
        "error_id": None,
        "error_name": "",
        "error_permanent": None,
        "price": "0.0050",
        "currency": "EUR",
        "parts": 1,
        "done_at": None,
        "reason": "",
    }
    body = {
        "type": "message.final",
        "timestamp": "2026-12-07T10:00:00+00:00",
        "data": final_event_data(row),
    }
    jsonschema.Draft202012Validator(body_schema["schema"]).validate(body)
    wrong = {**body, "type": "inbound.received"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(body_schema["schema"]).validate(wrong)
    headers = [p["name"] for p in webhooks["message.final"]["post"]["parameters"]]
    assert headers == ["webhook-id", "webhook-timestamp", "webhook-signature"]
