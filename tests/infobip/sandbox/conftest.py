"""Helpers for the sandbox tests (the `sandbox` and `webhook_sink` fixtures come from
tests/fixtures/sandbox.py, registered in tests/conftest.py)."""

import pytest
from jsonschema import Draft202012Validator

from infobip import openapi
from infobip.sandbox.validation import compile_schema
from tests.fixtures.examples import example  # noqa: F401  (the sandbox tests import it from here)


def response_validator(method: str, path: str, status: str = "200") -> Draft202012Validator:
    """A strict validator (discriminators enforced) for a response body the spec documents."""
    op = openapi.find_operation(method, path)
    response = compile_schema(op.product, op.spec["responses"][status])  # may be a $ref
    return Draft202012Validator(response["content"]["application/json"]["schema"])


@pytest.fixture
def sms_body():
    """A valid /sms/3/messages body factory: n messages, one destination each."""

    def make(n: int = 1, url: str | None = None, prefix: str = "m", **message_extra) -> dict:
        messages = []
        for i in range(n):
            message = {
                "sender": "Herald",
                "destinations": [{"to": f"4479{i:08d}", "messageId": f"{prefix}-{i}"}],
                "content": {"text": f"Hello {i}, spring offers are here"},
                "webhooks": {"callbackData": "herald:campaign=12"},
                **message_extra,
            }
            if url:
                message["webhooks"]["delivery"] = {"url": url}
            messages.append(message)
        return {"messages": messages}

    return make
