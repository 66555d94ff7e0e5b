"""Fixtures for the Infobip client tests: Infobip's own examples, `api` (a client), a mock."""

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import responses

from infobip.client import InfobipClient, set_client_factory
from infobip.openapi import find_operation, validate_request
from tests.fixtures.examples import EXAMPLES

BASE_URL = "https://acme.api.infobip.com"
API_KEY = "test-key-VERY-SECRET-0123456789abcdef"


def example(name: str) -> dict:
    """One of Infobip's published examples, e.g. `error_v3_400` or `sms_send_response_v3`."""
    return json.loads((EXAMPLES / f"{name}__spec.json").read_text())


def spec_example(method: str, path: str, status: str = "200", name: str | None = None) -> dict:
    """A response example from the vendored OpenAPI document (first one unless `name`)."""
    operation = find_operation(method, path)
    assert operation is not None, f"{method} {path} not in the spec"
    examples = operation.spec["responses"][status]["content"]["application/json"]["examples"]
    return examples[name or next(iter(examples))]["value"]


@pytest.fixture
def api() -> Iterator[InfobipClient]:
    """A client on a fake base URL that does not retry (error shapes map one-to-one)."""
    api = InfobipClient(BASE_URL, API_KEY, max_retries=0, backoff_factor=0)
    yield api
    api.close()


def spec_violations(request) -> list:
    """What the OpenAPI document rejects in the JSON body of a sent request (empty if none)."""
    if not request.body:
        return []
    return validate_request(request.method, urlsplit(request.url).path, json.loads(request.body))


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """`responses` intercepting every request; every body sent must satisfy Infobip's spec."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        for call in mock.calls:
            assert spec_violations(call.request) == [], call.request.body


@pytest.fixture
def no_client_factory() -> Iterator[None]:
    """Leave get_client() on the settings client before and after the test."""
    set_client_factory(None)
    yield
    set_client_factory(None)
