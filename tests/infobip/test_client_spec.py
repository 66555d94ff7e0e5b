"""Every request body the client builds satisfies Infobip's official OpenAPI request schema.

The `mocked` fixture checks each body actually sent in every client test; these tests add the
combinations that matter (grouped sends, every optional field, failover, headers, buttons) and
prove the check itself can fail.
"""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infobip.bodies import (
    sms_request_body,
    whatsapp_template_request_body,
    whatsapp_text_request_body,
)
from infobip.openapi import load, schema_validator, validate_request, violations
from infobip.types import SmsMessage, WhatsAppTemplateMessage
from tests.infobip.conftest import BASE_URL, example, spec_violations

HOOK = "https://herald.example.com/infobip/webhooks/token/sms/reports/"


def _variant_violations(base: str, value: dict) -> list:
    """Violations of a header/button against its `type`'s schema.

    jsonschema ignores OpenAPI's `discriminator`, so the request check alone only sees `type`.
    """
    schemas = load("whatsapp")["components"]["schemas"]
    [name] = [n for n in schemas if n.split(".")[-1] == base]
    target = schemas[name]["discriminator"]["mapping"].get(value.get("type"))
    if target is None:
        return [f"unknown {base} type {value.get('type')!r}"]
    return violations(schema_validator("whatsapp", target.rsplit("/", 1)[-1]), value)


def _sent(mocked) -> dict:
    [call] = mocked.calls
    assert spec_violations(call.request) == []
    return json.loads(call.request.body)


def test_grouped_sms_with_every_optional_field_is_valid(api, mocked) -> None:
    mocked.post(f"{BASE_URL}/sms/3/messages", json=example("sms_send_response_v3"))
    common = {
        "sender": "Herald",
        "callback_data": json.dumps({"campaign": 7}),
        "notify_url": HOOK,
        "intermediate_report": True,
        "validity_period_minutes": 2880,
        "campaign_reference_id": "campaign-7",
        "language_code": "TR",
        "transliteration": "TURKISH",
    }
    messages = [
        SmsMessage(to=f"4179302{n:04d}", text="Merhaba", message_id=f"m-{n}", **common)
        for n in range(5)
    ] + [SmsMessage(to="41793020000", text="Second text", message_id="m-x")]

    api.send_sms(
        messages,
        bulk_id="bulk-1",
        tracking={"shortenUrl": True, "trackClicks": True, "removeProtocol": False},
    )

    sent = _sent(mocked)
    assert [len(entry["destinations"]) for entry in sent["messages"]] == [5, 1]


def test_whatsapp_text_with_every_optional_field_is_valid(api, mocked) -> None:
    mocked.post(f"{BASE_URL}/whatsapp/1/message/text", json=example("whatsapp_send_text_response"))
    api.send_whatsapp_text(
        sender="441134960000",
        to="441134960001",
        text="Hello https://example.com",
        message_id="wa-1",
        callback_data="cb",
        notify_url=HOOK,
        preview_url=True,
    )
    assert _sent(mocked)["content"]["previewUrl"] is True


def test_whatsapp_templates_with_headers_buttons_and_failover_are_valid(api, mocked) -> None:
    mocked.post(
        f"{BASE_URL}/whatsapp/1/message/template",
        json=example("whatsapp_send_template_response"),
    )
    headers = [
        {"type": "TEXT", "placeholder": "Spring"},
        {"type": "IMAGE", "mediaUrl": "https://example.com/a.jpg"},
        {"type": "DOCUMENT", "mediaUrl": "https://example.com/a.pdf", "filename": "a.pdf"},
        {"type": "LOCATION", "latitude": 45.8, "longitude": 15.9},
    ]
    messages = [
        WhatsAppTemplateMessage(
            to=f"44113496000{n}",
            sender="441134960000",
            template_name="spring_sale",
            language="en_GB",
            message_id=f"wa-{n}",
            body_placeholders=["Ana", "20%"],
            header=header,
            buttons=[
                {"type": "QUICK_REPLY", "parameter": "STOP"},
                {"type": "URL", "parameter": "promo/123"},
            ],
            callback_data="cb",
            notify_url=HOOK,
            sms_failover=("Herald", "Spring sale: 20% off"),
            validity_period_minutes=60,
        )
        for n, header in enumerate(headers)
    ]

    api.send_whatsapp_templates(messages, bulk_id="bulk-wa")

    sent = _sent(mocked)
    assert len(sent["messages"]) == 4
    assert all("smsFailover" in m for m in sent["messages"])
    for message in sent["messages"]:
        data = message["content"]["templateData"]
        assert _variant_violations("TemplateHeaderContent", data["header"]) == []
        for button in data["buttons"]:
            assert _variant_violations("TemplateButtonContent", button) == []


def test_header_and_button_variants_are_checked_against_their_own_schema() -> None:
    assert _variant_violations("TemplateHeaderContent", {"type": "TEXT"})
    assert _variant_violations("TemplateHeaderContent", {"type": "IMAGE"})
    assert _variant_violations("TemplateButtonContent", {"type": "URL"})
    assert _variant_violations("TemplateButtonContent", {"type": "NOPE", "parameter": "x"})


def test_preview_with_language_and_transliteration_is_valid(api, mocked) -> None:
    mocked.post(f"{BASE_URL}/sms/1/preview", json={"originalText": "x", "previews": []})
    api.preview_sms("Ως Μεγαρικό", language_code="AUTODETECT", transliteration="GREEK")
    assert _sent(mocked) == {
        "text": "Ως Μεγαρικό",
        "languageCode": "AUTODETECT",
        "transliteration": "GREEK",
    }


def test_the_spec_check_rejects_what_infobip_rejects() -> None:
    body = sms_request_body([SmsMessage(to="41", text="x", message_id="m")])
    assert validate_request("POST", "/sms/3/messages", body) == []
    del body["messages"][0]["destinations"]
    assert [v.property for v in validate_request("POST", "/sms/3/messages", body)] == [
        "messages[0]"
    ]
    too_long = whatsapp_text_request_body(sender="4411", to="4412", text="x", message_id="m" * 201)
    assert validate_request("POST", "/whatsapp/1/message/text", too_long)
    no_language = whatsapp_template_request_body(
        [
            WhatsAppTemplateMessage(
                to="1", sender="2", template_name="t", language="en", message_id="m"
            )
        ]
    )
    del no_language["messages"][0]["content"]["language"]
    assert validate_request("POST", "/whatsapp/1/message/template", no_language)


_text = st.text(min_size=1, max_size=300).filter(lambda s: s.strip())
_sms = st.builds(
    SmsMessage,
    to=st.from_regex(r"[1-9][0-9]{6,14}", fullmatch=True),
    text=st.sampled_from(["Hi", "Sale today", "Ciao"]) | _text,
    message_id=st.uuids().map(str),
    sender=st.none() | st.sampled_from(["Herald", "447860099299"]),
    callback_data=st.none() | st.text(max_size=100),
    notify_url=st.none() | st.just(HOOK),
    intermediate_report=st.booleans(),
    validity_period_minutes=st.none() | st.integers(1, 2880),
    campaign_reference_id=st.none() | st.text(min_size=1, max_size=255),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(_sms, min_size=1, max_size=12, unique_by=lambda m: m.message_id))
def test_any_valid_sms_batch_builds_a_valid_body_with_every_destination_once(messages) -> None:
    body = sms_request_body(messages, bulk_id="b")

    assert validate_request("POST", "/sms/3/messages", body) == []
    sent = [
        (d["to"], d["messageId"], entry["content"]["text"])
        for entry in body["messages"]
        for d in entry["destinations"]
    ]
    assert sorted(sent) == sorted((m.to, m.message_id, m.text) for m in messages)
    # Entries that differ only in destinations would have been merged into one.
    shared = [{k: v for k, v in e.items() if k != "destinations"} for e in body["messages"]]
    assert len(shared) == len({json.dumps(s, sort_keys=True) for s in shared})
