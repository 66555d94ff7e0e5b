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
