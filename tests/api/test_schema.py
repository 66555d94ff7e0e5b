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
