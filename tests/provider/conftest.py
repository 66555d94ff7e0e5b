"""Fixtures for the provider-feature tests: a spec-checking `responses` mock and the sandbox."""

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import responses

from infobip.client import InfobipClient, set_client_factory
from infobip.openapi import validate_request
from infobip.sandbox.validation import request_validator

BASE_URL = "https://acme.api.infobip.com"


def spec_problems(method: str, url: str, body: bytes | str | None) -> list:
    """Violations of a sent body under both validators (the spec's reference and the sandbox's)."""
    if not body:
        return []
    data = json.loads(body)
    path = urlsplit(url).path
    from infobip.openapi import find_operation

    template = find_operation(method, path).path
    return validate_request(method, path, data) + request_validator(
        method.lower(), template
    ).violations(data)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """Herald's client on a fake Infobip; every body sent must satisfy Infobip's spec."""
    client = InfobipClient(BASE_URL, "provider-test-key", max_retries=0, backoff_factor=0)
    set_client_factory(lambda: client)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        for call in mock.calls:
            request = call.request
            assert spec_problems(request.method, request.url, request.body) == [], request.body
    set_client_factory(None)
    client.close()


@pytest.fixture
def on_sandbox(sandbox, settings) -> Iterator:
    """Herald's settings client pointed at the test sandbox."""
    settings.INFOBIP_SANDBOX_URL = sandbox.url
    settings.INFOBIP_SANDBOX_API_KEY = sandbox.api_key
    set_client_factory(None)
    yield sandbox
    set_client_factory(None)


def sent_bodies(mock: responses.RequestsMock, path: str) -> list[dict]:
    """The JSON bodies Herald sent to `path`."""
    return [json.loads(c.request.body) for c in mock.calls if urlsplit(c.request.url).path == path]


# The webhook poster of the webhook tests (POST a body, run what commits enqueue).
from tests.infobip.webhooks.conftest import post  # noqa: E402, F401
