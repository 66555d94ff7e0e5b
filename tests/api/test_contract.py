"""Every operation's success answer is exactly what the committed OpenAPI document promises.

The fuzzer (test_schemathesis.py) draws inputs and may or may not reach a given answer; this
test reaches each operation's success answer on purpose, with real data behind it, and
validates status, content type and body against `docs/openapi.yaml`. A new operation without a
case here fails `test_every_documented_operation_has_a_case`, so no answer goes unpinned.
"""

from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from schemathesis.core.transport import Response

from contacts.models import Contact, ContactList
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
DOCUMENT = yaml.safe_load(COMMITTED.read_text())
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
PREFIX = "/api/v1/"


def documented_operations() -> set[tuple[str, str]]:
    """(METHOD, path template) of every operation in the committed document."""
    return {
        (method.upper(), path)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def as_response(django_response: Any, method: str, url: str) -> Response:
    """The Django test response as schemathesis' own transport response, which it validates."""
    return Response(
        status_code=django_response.status_code,
        headers={name: [value] for name, value in django_response.headers.items()},
        content=django_response.content,
        request=requests.Request(method, url).prepare(),
        elapsed=0.0,
        message="",
        encoding="utf-8",
        http_version="1.1",
        verify=False,
    )


class Contract:
    """Calls an operation and checks its answer against the document; records what it covered."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.covered: set[tuple[str, str]] = set()

    def check(
        self,
        method: str,
        template: str,
        expected: int,
        body: Any = None,
        *,
        execute: bool = True,
        query: str = "",
        **ids: Any,
    ) -> Any:
        path = template.format(**ids) + query
        response = self.api.call(method, path.removeprefix(PREFIX), body, execute=execute)
        assert response.status_code == expected, (method, path, response.content[:500])
        operation = SCHEMA[template][method]
        operation.validate_response(as_response(response, method, "http://h" + path))
        self.covered.add((method, template))
        return response.json() if response.content else None


def test_every_documented_operation_has_a_case() -> None:
    assert documented_operations() == set(CASES_COVER), (
        "add the missing operation to test_every_success_answer_matches_the_document"
    )


JOURNEY_CASES = [
    ("GET", "/api/v1/journeys"),
    ("POST", "/api/v1/journeys"),
    ("GET", "/api/v1/journeys/{id}"),
    ("PATCH", "/api/v1/journeys/{id}"),
    ("GET", "/api/v1/journeys/{id}/entries"),
    ("POST", "/api/v1/journeys/{id}/activate"),
    ("POST", "/api/v1/journeys/{id}/pause"),
    ("POST", "/api/v1/journeys/{id}/resume"),
    ("POST", "/api/v1/journeys/{id}/archive"),
    ("POST", "/api/v1/journeys/{id}/move"),
    ("POST", "/api/v1/events"),
    ("POST", "/api/v1/events/batch"),
]
CASES_COVER = [
    ("GET", "/api/v1/contacts"),
    ("POST", "/api/v1/contacts/upsert"),
    ("GET", "/api/v1/contacts/{id}"),
    ("PATCH", "/api/v1/contacts/{id}"),
    ("POST", "/api/v1/contacts/{id}/opt-out"),
    ("POST", "/api/v1/contacts/{id}/opt-in"),
    ("DELETE", "/api/v1/contacts/{id}"),
    ("GET", "/api/v1/lists"),
    ("POST", "/api/v1/lists"),
    ("POST", "/api/v1/lists/{id}/members"),
    ("DELETE", "/api/v1/lists/{id}/members"),
    ("POST", "/api/v1/templates/sync"),
    ("GET", "/api/v1/templates"),
    ("POST", "/api/v1/messages"),
    ("GET", "/api/v1/messages/{message_id}"),
    ("GET", "/api/v1/inbound"),
    ("POST", "/api/v1/conversations/{id}/replies"),
    ("GET", "/api/v1/conversations/{id}/replies"),
    ("POST", "/api/v1/campaigns"),
    ("GET", "/api/v1/campaigns"),
    ("GET", "/api/v1/campaigns/{id}"),
    ("PATCH", "/api/v1/campaigns/{id}"),
    ("GET", "/api/v1/campaigns/{id}/preview"),
    ("POST", "/api/v1/campaigns/{id}/launch"),
    ("POST", "/api/v1/campaigns/{id}/pause"),
    ("POST", "/api/v1/campaigns/{id}/resume"),
    ("GET", "/api/v1/campaigns/{id}/messages"),
    ("POST", "/api/v1/campaigns/{id}/cancel"),
    ("POST", "/api/v1/event-subscriptions"),
    ("GET", "/api/v1/event-subscriptions"),
    ("GET", "/api/v1/event-subscriptions/{id}"),
    ("PATCH", "/api/v1/event-subscriptions/{id}"),
    ("GET", "/api/v1/event-subscriptions/{id}/deliveries"),
    ("DELETE", "/api/v1/event-subscriptions/{id}"),
    ("POST", "/api/v1/campaigns/{id}/request-approval"),
    ("GET", "/api/v1/snippets"),
    ("POST", "/api/v1/snippets"),
    ("POST", "/api/v1/infobip/request"),
    ("GET", "/api/v1/reports/campaigns"),
    ("GET", "/api/v1/reports/trends"),
    ("POST", "/api/v1/contacts/import/preview"),
    ("POST", "/api/v1/contacts/import"),
    ("POST", "/api/v1/attributes"),
    ("GET", "/api/v1/attributes"),
    ("DELETE", "/api/v1/attributes/{key}"),
    ("POST", "/api/v1/segments"),
    ("GET", "/api/v1/segments"),
    ("POST", "/api/v1/segments/preview"),
    ("GET", "/api/v1/segments/{id}"),
    ("PATCH", "/api/v1/segments/{id}"),
    ("GET", "/api/v1/segments/{id}/count"),
    ("GET", "/api/v1/segments/{id}/contacts"),
    ("DELETE", "/api/v1/segments/{id}"),
    ("POST", "/api/v1/conversions"),
    ("GET", "/api/v1/conversions/{order_id}"),
    ("GET", "/api/v1/test-numbers"),
    ("POST", "/api/v1/test-numbers"),
    ("DELETE", "/api/v1/test-numbers/{id}"),
    ("POST", "/api/v1/campaigns/{id}/test"),
    ("GET", "/api/v1/campaigns/{id}/tests"),
    ("POST", "/api/v1/senders"),
    ("GET", "/api/v1/senders"),
    ("GET", "/api/v1/senders/{id}"),
    ("DELETE", "/api/v1/senders/{id}"),
    # Journeys and events need PostgreSQL: their cases are in tests/journeys/test_api.py.
    *JOURNEY_CASES,
]


def test_every_success_answer_matches_the_document(
    api_for, django_user_model, live_sandbox, webhook_sink, settings
) -> None:
    settings.HERALD_SEND_CHAINS = 1
    user = django_user_model.objects.create_superuser("contract", password="not-used-here")
    c = Contract(api_for(user))

    # Contacts and lists.
    c.check(
        "POST",
        "/api/v1/contacts/upsert",
        200,
        {
            "contacts": [
                {"phone": "+447946000101", "first_name": "Ann"},
                {"phone": "+447946000102", "first_name": "Bo"},
                {"phone": "not a number"},
            ]
        },
    )
    ann = Contact.objects.get(phone="+447946000101")
    c.check("GET", "/api/v1/contacts", 200)
    c.check("GET", "/api/v1/contacts/{id}", 200, id=ann.pk)
    c.check("PATCH", "/api/v1/contacts/{id}", 200, {"first_name": "Anna"}, id=ann.pk)
    c.check("POST", "/api/v1/contacts/{id}/opt-out", 200, id=ann.pk)
    c.check("POST", "/api/v1/contacts/{id}/opt-in", 200, id=ann.pk)
    created = c.check("POST", "/api/v1/lists", 201, {"name": "contract"})
    ids = list(Contact.objects.values_list("pk", flat=True))
    c.check("POST", "/api/v1/lists/{id}/members", 200, {"contact_ids": ids}, id=created["id"])
    c.check("GET", "/api/v1/lists", 200)

    # Templates (from the sandbox) and a transactional send.
    synced = c.check("POST", "/api/v1/templates/sync", 200)
    assert synced["created"] > 0
    assert synced["summary"].startswith("created=")
    c.check("GET", "/api/v1/templates", 200)
    sent = c.check(
        "POST",
        "/api/v1/messages",
        202,
        {"channel": "sms", "sender": "Shop", "to": ["+447946000102"], "text": "Hi"},
    )
    c.check(
        "GET", "/api/v1/messages/{message_id}", 200, message_id=sent["messages"][0]["messageId"]
    )
    c.check("GET", "/api/v1/inbound", 200)
    c.check(
        "POST",
        "/api/v1/conversations/{id}/replies",
        202,
        {"channel": "sms", "text": "Yes, we are open"},
        id=ann.pk,
    )
    c.check("GET", "/api/v1/conversations/{id}/replies", 200, id=ann.pk)

    # A campaign through its life.
    campaign = c.check(
        "POST",
        "/api/v1/campaigns",
        201,
        {
            "name": "contract",
            "channel": "sms",
            "sender": "Shop",
            "text": "Hi {{first_name}}",
            "lists": ["contract"],
        },
    )
    cid = campaign["id"]
    c.check("GET", "/api/v1/campaigns", 200)
    c.check("GET", "/api/v1/campaigns/{id}", 200, id=cid)
    c.check("PATCH", "/api/v1/campaigns/{id}", 200, {"text": "Hello {{first_name}}"}, id=cid)
    c.check("GET", "/api/v1/campaigns/{id}/preview", 200, id=cid)
    number = c.check("POST", "/api/v1/test-numbers", 201, {"phone": "+447700900123"})
    c.check("GET", "/api/v1/test-numbers", 200)
    c.check("POST", "/api/v1/campaigns/{id}/test", 201, {"to": number["phone"]}, id=cid)
    c.check("GET", "/api/v1/campaigns/{id}/tests", 200, id=cid)
    c.check("DELETE", "/api/v1/test-numbers/{id}", 204, id=number["id"])
    c.check("POST", "/api/v1/campaigns/{id}/request-approval", 200, {"note": "please"}, id=cid)
    # Not run on commit: the campaign stays running (not sent yet) for pause and resume.
    c.check("POST", "/api/v1/campaigns/{id}/launch", 200, id=cid, execute=False)
    c.check("POST", "/api/v1/campaigns/{id}/pause", 200, id=cid)
    c.check("POST", "/api/v1/campaigns/{id}/resume", 200, id=cid, execute=False)
    c.check("GET", "/api/v1/campaigns/{id}/messages", 200, id=cid)
    cancelled = c.check("POST", "/api/v1/campaigns/{id}/cancel", 200, id=cid)
    assert cancelled["state"] == "cancelled"
    compared = c.check("GET", "/api/v1/reports/campaigns", 200, query=f"?ids={cid}")
    assert compared["campaigns"][0]["id"] == cid
    c.check("GET", "/api/v1/reports/trends", 200, query="?days=7&bucket=week")
    c.check("POST", "/api/v1/snippets", 201, {"name": "Footer", "text": "Reply STOP to opt out"})
    c.check("GET", "/api/v1/snippets", 200)

    # Senders per country: added (201), changed (200), listed, read, removed.
    india = {"channel": "sms", "country": "IN", "sender": "HERALD", "dlt_entity_id": "1101"}
    added = c.check("POST", "/api/v1/senders", 201, india)
    changed = c.check("POST", "/api/v1/senders", 200, {**india, "dlt_telemarketer_id": "17"})
    assert changed["id"] == added["id"]
    assert changed["dlt_telemarketer_id"] == "17"
    listed = c.check("GET", "/api/v1/senders", 200, query="?channel=sms")
    assert [s["country"] for s in listed] == ["IN"]
    c.check("GET", "/api/v1/senders/{id}", 200, id=added["id"])
    c.check("DELETE", "/api/v1/senders/{id}", 204, id=added["id"])

    # Event subscriptions.
    sub = c.check(
        "POST",
        "/api/v1/event-subscriptions",
        201,
        {"url": webhook_sink.url("/contract"), "events": ["message.final"]},
    )
    c.check("GET", "/api/v1/event-subscriptions", 200)
    c.check("GET", "/api/v1/event-subscriptions/{id}", 200, id=sub["id"])
    c.check("PATCH", "/api/v1/event-subscriptions/{id}", 200, {"active": False}, id=sub["id"])
    c.check("GET", "/api/v1/event-subscriptions/{id}/deliveries", 200, id=sub["id"])
    c.check("DELETE", "/api/v1/event-subscriptions/{id}", 204, id=sub["id"])

    # The custom call (a read; sends are refused).
    logs = c.check(
        "POST",
        "/api/v1/infobip/request",
        200,
        {"method": "GET", "path": "/sms/3/logs", "query": {"limit": "1"}},
    )
    assert logs["status"] == 200

    # A CSV import with a mapping.
    csv_body = {"content": "Tel,Score\n+447946000103,7\n", "map": ["Score=number"]}
    c.check("POST", "/api/v1/contacts/import/preview", 200, csv_body)
    c.check("POST", "/api/v1/contacts/import", 200, csv_body)

    # Attribute types and segments.
    c.check("POST", "/api/v1/attributes", 200, {"key": "score", "type": "number"})
    c.check("GET", "/api/v1/attributes", 200)
    rules = {
        "match": "all",
        "rules": [{"field": "attribute", "key": "score", "op": "gt", "value": 1}],
    }
    segment = c.check("POST", "/api/v1/segments", 201, {"name": "contract", "rules": rules})
    c.check("GET", "/api/v1/segments", 200)
    c.check("POST", "/api/v1/segments/preview", 200, {"rules": rules})
    c.check("GET", "/api/v1/segments/{id}", 200, id=segment["id"])
    c.check("PATCH", "/api/v1/segments/{id}", 200, {"description": "d"}, id=segment["id"])
    c.check("GET", "/api/v1/segments/{id}/count", 200, id=segment["id"])
    c.check("GET", "/api/v1/segments/{id}/contacts", 200, id=segment["id"])
    c.check("DELETE", "/api/v1/segments/{id}", 204, id=segment["id"])
    c.check("DELETE", "/api/v1/attributes/{key}", 204, key="score")

    # Conversions: one, the same again (stored once), a batch, one explained.
    order = {"order_id": "c-1", "contact": {"phone": "+447946000102"}, "value": "12.50"}
    c.check("POST", "/api/v1/conversions", 201, order)
    c.check("POST", "/api/v1/conversions", 200, order)
    c.check("POST", "/api/v1/conversions", 200, {"conversions": [order, {"order_id": "c-2"}]})
    c.check("GET", "/api/v1/conversions/{order_id}", 200, order_id="c-1")

    # Last: what removes the data the others read.
    c.check("DELETE", "/api/v1/lists/{id}/members", 200, {"contact_ids": ids}, id=created["id"])
    c.check("DELETE", "/api/v1/contacts/{id}", 204, id=ann.pk)
    assert ContactList.objects.filter(pk=created["id"]).exists()

    assert c.covered == set(CASES_COVER) - set(JOURNEY_CASES)
