"""The upsert view's orjson body parser: same data and same errors as DRF's JSONParser."""

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from api.parsers import FastJSONParser
from contacts.models import Contact

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _parse(parser, body: bytes):
    try:
        return parser.parse(io.BytesIO(body), "application/json", {})
    except ParseError as exc:
        return f"ParseError: {exc.detail}"
    except RecursionError:  # json's answer to deep nesting, with either parser
        return "RecursionError"


@settings(max_examples=300, deadline=None)
@given(value=_json)
def test_fast_parser_reads_what_drf_reads(value) -> None:
    body = json.dumps(value).encode()
    assert _parse(FastJSONParser(), body) == _parse(JSONParser(), body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"n": 123456789012345678901234567890}',  # beyond 64 bits: orjson reads a float
        b'{"n": 18446744073709551616}',  # 2**64
        b'{"a": NaN}',
        b'{"a": 1,}',
        b"\xff\xfe",
        b'{"s": "\\ud800"}',  # a lone surrogate: json reads it, orjson does not
        b"[" * 2000 + b"]" * 2000,
    ],
)
def test_what_orjson_refuses_gets_drfs_own_answer(body) -> None:
    assert _parse(FastJSONParser(), body) == _parse(JSONParser(), body)


@pytest.mark.django_db
def test_upsert_takes_a_body_only_the_json_module_reads(api_for, sender_user) -> None:
    api = api_for(sender_user)
    big = 123456789012345678901234567890
    body = '{"contacts": [{"phone": "+447911123456", "attributes": {"n": ' + str(big) + "}}]}"
    response = api.client.post(
        "/api/v1/contacts/upsert",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert response.status_code == 200, response.content
    assert Contact.objects.get(phone="+447911123456").attributes == {"n": big}
    bad = api.client.post(
        "/api/v1/contacts/upsert",
        '{"contacts": [',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert bad.status_code == 400
    assert "JSON parse error" in bad.content.decode()
