"""The sandbox's fast validator lists exactly what the reference validator lists.

Reference: `infobip.openapi` (python-jsonschema resolving `$ref`s in the vendored spec). The
sandbox's validator is compiled (refs inlined, jsonschema_rs decides valid/invalid) and enforces
OpenAPI discriminators on top; everything else must match violation for violation.
"""

import copy
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infobip import openapi
from infobip.openapi import Violation
from infobip.sandbox.validation import request_validator

from .conftest import example

ONE_OF_DUMP = re.compile(r" is valid under each of .*\Z", re.DOTALL)
ONE_OF_TEXT = " is valid under more than one of the given schemas"
SMS = ("post", "/sms/3/messages")
WA_TEXT = ("post", "/whatsapp/1/message/text")
WA_TEMPLATE = ("post", "/whatsapp/1/message/template")
PREVIEW = ("post", "/sms/1/preview")
INBOUND_CONFIG = ("post", "/resource-management/1/inbound-message-configurations")


def reference(op: tuple[str, str], body) -> list[Violation]:
    """The reference's violations; its oneOf message (a dump of subschemas) is shortened."""
    found = openapi.violations(openapi.request_validator(*op), body)
    return [Violation(v.property, ONE_OF_DUMP.sub(ONE_OF_TEXT, v.violation)) for v in found]


def sandbox(op: tuple[str, str], body) -> list[Violation]:
    return request_validator(*op).violations(body)


def _sms(**message) -> dict:
    base = {"destinations": [{"to": "447900000001"}], "content": {"text": "Hi"}}
    return {"messages": [{**base, **message}]}


def _template(**content) -> dict:
    base = {
        "templateName": "order_update",
        "templateData": {"body": {"placeholders": ["1", "2"]}},
        "language": "en",
    }
    return {
        "messages": [{"from": "447860099299", "to": "447900000001", "content": {**base, **content}}]
    }


BAD_BODIES = [
    (SMS, {}),
    (SMS, {"messages": "nope"}),
    (SMS, {"messages": [{}]}),
    (SMS, _sms(destinations=[{}])),
    (SMS, _sms(destinations=[{"to": 447900000001}])),
    (SMS, _sms(destinations=[{"to": "4" * 65}])),
    (SMS, _sms(destinations=[{"to": "447900000001", "messageId": "x" * 201}])),
    (SMS, _sms(content={"text": "Hi", "hex": "41"})),
    (SMS, _sms(content={})),
    (SMS, _sms(content={"text": "Hi", "transliteration": "KLINGON"})),
    (SMS, _sms(webhooks={"callbackData": "x" * 4001})),
    (SMS, _sms(options={"validityPeriod": {"timeUnit": "HOURS"}})),
    (SMS, _sms(options={"deliveryTimeWindow": {"days": ["FUNDAY"], "from": {"hour": 24}}})),
    (SMS, {**_sms(), "options": {"schedule": {"bulkId": "b" * 101}}}),
    (WA_TEXT, {}),
    (WA_TEXT, {"from": "", "to": "447900000001", "content": {"text": ""}}),
    (WA_TEXT, {"from": "4" * 25, "to": "447900000001", "content": {"text": "x" * 4097}}),
    (WA_TEXT, {"from": "447860099299", "to": "447900000001", "content": {}, "notifyUrl": 5}),
    (WA_TEMPLATE, {"messages": []} | {"bulkId": "b" * 101}),
    (WA_TEMPLATE, {"messages": [{}]}),
    (WA_TEMPLATE, _template(templateName="")),
    (WA_TEMPLATE, _template(templateData={})),
    (WA_TEMPLATE, _template(templateData={"body": {"placeholders": [1]}})),
    (WA_TEMPLATE, {"messages": [_template()["messages"][0] | {"smsFailover": {"from": "X"}}]}),
    (PREVIEW, {}),
    (PREVIEW, {"text": "Hi", "languageCode": "XX", "transliteration": "KLINGON"}),
    (INBOUND_CONFIG, {}),
    (INBOUND_CONFIG, {"channel": "PIGEON", "keyword": "k" * 51}),
]


@pytest.mark.parametrize(("op", "body"), BAD_BODIES)
def test_bad_bodies_get_the_reference_violations(op, body) -> None:
    expected = reference(op, body)
    assert expected, "each case must be invalid for the reference validator"
    assert sandbox(op, body) == expected


GOOD_BODIES = [
    (SMS, "sms_send_request_v3_full"),
    (WA_TEXT, "whatsapp_send_text_request"),
    (WA_TEMPLATE, "whatsapp_send_template_request_bulk"),
    (WA_TEMPLATE, "whatsapp_send_template_request_sms_failover"),
]


@pytest.mark.parametrize(("op", "name"), GOOD_BODIES)
def test_infobip_examples_are_valid_for_both(op, name) -> None:
    body = example(name)
    assert reference(op, body) == []
    assert sandbox(op, body) == []


def test_discriminator_mappings_are_enforced_beyond_the_reference() -> None:
    body = _template(
        templateName="welcome_offer",
        templateData={
            "body": {"placeholders": ["Ana", "20", "SPRING20", "31 May"]},
            "header": {"type": "TEXT"},
            "buttons": [{"type": "QUICK_REPLY"}, {"type": "TELEPORT"}],
        },
    )
    assert reference(WA_TEMPLATE, body) == []  # JSON Schema alone ignores `discriminator`
    prefix = "messages[0].content.templateData"
    assert sandbox(WA_TEMPLATE, body) == [
        Violation(f"{prefix}.buttons[0]", "'parameter' is a required property"),
        Violation(
            f"{prefix}.buttons[1].type",
            "'TELEPORT' is not one of ['QUICK_REPLY', 'URL', 'COPY_CODE', 'FLOW', 'CATALOG', "
            "'MULTI_PRODUCT', 'ORDER_DETAILS', 'VOICE_CALL']",
        ),
        Violation(f"{prefix}.header", "'placeholder' is a required property"),
    ]
    forwarding = {
        "channel": "SMS",
        "number": "447860099299",
        "forwarding": {"type": "HTTP_FORWARD"},
    }
    assert reference(INBOUND_CONFIG, forwarding) == []
    assert sandbox(INBOUND_CONFIG, forwarding) == [
        Violation("forwarding", "'url' is a required property")
    ]


# Random damage to valid bodies: wrong types, missing keys, over-long strings, extra nesting.
_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.just("x" * 5000),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


@st.composite
def damaged(draw, op_name):
    op, name = {
        "sms": (SMS, "sms_send_request_v3_full"),
        "text": (WA_TEXT, "whatsapp_send_text_request"),
    }[op_name]
    body = copy.deepcopy(example(name))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(body) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = body
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_JUNK)
    return op, body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["sms", "text"]).flatmap(damaged))
def test_fast_validator_agrees_with_the_reference_on_damaged_bodies(case) -> None:
    op, body = case
    expected = reference(op, body)
    assert request_validator(*op).is_valid(body) == (not expected)
    assert sandbox(op, body) == expected
