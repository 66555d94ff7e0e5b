"""Fixtures for the WhatsApp template tests: Infobip's own examples and a mocked template list."""

import copy
import json

import pytest
import responses
from django.conf import settings

from infobip.openapi import load
from tests.fixtures.examples import EXAMPLES
from whatsapp.models import WhatsAppTemplate
from whatsapp.structure import parse_template

SENDER = "447860099299"
LIST_PATH = "/whatsapp/2/senders/{sender}/templates"


def spec_list_examples() -> dict[str, dict]:
    """The 200 examples of `GET /whatsapp/2/senders/{sender}/templates` in Infobip's spec."""
    op = load("whatsapp")["paths"][LIST_PATH]["get"]
    examples = op["responses"]["200"]["content"]["application/json"]["examples"]
    return {name: copy.deepcopy(example["value"]) for name, example in examples.items()}


def examples_file(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def list_url(sender: str = SENDER) -> str:
    return settings.INFOBIP_SANDBOX_URL.rstrip("/") + LIST_PATH.format(sender=sender)


def raw_template(name: str = "promo", language: str = "en", **overrides) -> dict:
    """A raw template object shaped like Infobip's, with a text header, body and buttons."""
    raw = {
        "id": f"id-{name}-{language}",
        "businessAccountId": 222,
        "name": name,
        "language": language,
        "status": "APPROVED",
        "category": "MARKETING",
        "structure": {
            "header": {"format": "TEXT", "text": "Hello {{1}}"},
            "body": {"text": "Hi {{1}}, your code {{2}} expires on {{3}}."},
            "footer": {"text": "Reply STOP to opt out"},
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Yes please"},
                {"type": "URL", "text": "Open offer", "url": "https://shop.example/o/{{1}}"},
                {"type": "PHONE_NUMBER", "text": "Call us", "phoneNumber": "441134960000"},
            ],
            "type": "TEXT",
        },
        "quality": "HIGH",
        "createdAt": "2024-01-01T00:00:00.000+0000",
        "lastUpdatedAt": "2024-01-01T00:00:00.000+0000",
    }
    structure = overrides.pop("structure", None)
    if structure is not None:
        raw["structure"] = structure
    raw.update(overrides)
    return raw


def build_template(raw: dict, sender: str = SENDER, save: bool = False) -> WhatsAppTemplate:
    template = WhatsAppTemplate(sender=sender, raw=raw, **parse_template(raw).as_fields())
    if save:
        template.save()
    return template


@pytest.fixture
def mocked_api():
    """`responses` active for the whole test; unmatched calls fail loudly."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def serve_templates(mocked_api):
    """Answer the template list of `sender` with `templates` (replacing any earlier answer)."""

    def serve(templates: list, sender: str = SENDER, status: int = 200, body=None) -> None:
        mocked_api.remove(responses.GET, list_url(sender))
        payload = body if body is not None else {"templates": templates}
        mocked_api.add(responses.GET, list_url(sender), json=payload, status=status)

    return serve


@pytest.fixture
def sandbox_settings(sandbox, settings):
    """Herald's client pointed at the running sandbox (sandbox mode: no INFOBIP_BASE_URL)."""
    settings.INFOBIP_SANDBOX_URL = sandbox.url
    settings.INFOBIP_SANDBOX_API_KEY = sandbox.api_key
    return sandbox
