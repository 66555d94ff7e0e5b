"""Placeholder mapping: validation at save/launch, per-recipient values, templateData, preview."""

import types

import pytest

from infobip.bodies import whatsapp_template_request_body
from infobip.openapi import validate_request
from infobip.types import WhatsAppTemplateMessage
from tests.whatsapp.conftest import build_template, examples_file, raw_template, spec_list_examples
from whatsapp.mapping import (
    TemplateValues,
    contact_values,
    mapping_resolve,
    mapping_validate,
    slot_from_text,
)
from whatsapp.services import template_render

SEND_PATH = "/whatsapp/1/message/template"


def field(name, fallback=None):
    return {"source": "field", "value": name, "fallback": fallback}


def attr(name, fallback=None):
    return {"source": "attribute", "value": name, "fallback": fallback}


def lit(value, fallback=None):
    return {"source": "literal", "value": value, "fallback": fallback}


FULL_MAPPING = {
    "header": [field("first_name", "there")],
    "body": [field("first_name", "friend"), attr("code"), lit("31 May")],
    "buttons": [{"index": 1, "slots": [attr("offer_id")]}],
}
ANNA = {
    "first_name": "Anna",
    "last_name": "K",
    "phone": "+441134960001",
    "language": "en",
    "country": "GB",
    "timezone": "Europe/London",
    "attributes": {"code": "X42", "offer_id": "summer-24"},
}


@pytest.fixture
def template():
    return build_template(raw_template())


def send_body(template, values: TemplateValues) -> dict:
    """A full one-message request, as the campaign engine will build it."""
    return {
        "messages": [
            {
                "from": template.sender,
                "to": "441134960001",
                "messageId": "m-1",
                "content": {
                    "templateName": template.name,
                    "language": template.language,
                    "templateData": values.to_infobip_template_data(),
                },
            }
        ]
    }


# --- validation ---------------------------------------------------------------------------


def test_a_complete_mapping_is_valid(template) -> None:
    assert mapping_validate(template=template, mapping=FULL_MAPPING) == []


def test_missing_body_placeholder_is_named_with_both_counts(template) -> None:
    mapping = {**FULL_MAPPING, "body": FULL_MAPPING["body"][:2]}
    assert mapping_validate(template=template, mapping=mapping) == [
        "body placeholder {{3}} is not mapped (the template has 3, the mapping 2)"
    ]


def test_too_many_body_values_are_refused(template) -> None:
    mapping = {**FULL_MAPPING, "body": [*FULL_MAPPING["body"], lit("extra")]}
    assert mapping_validate(template=template, mapping=mapping) == [
        "the template's body has 3 placeholders, the mapping 4"
    ]


def test_body_values_for_a_template_without_placeholders_are_refused() -> None:
    plain = build_template(raw_template(structure={"body": {"text": "Hello"}}))
    assert mapping_validate(template=plain, mapping={"body": [lit("x")]}) == [
        "the template's body takes no value, the mapping gives 1"
    ]
    assert mapping_validate(template=plain, mapping={}) == []
    assert mapping_validate(template=plain, mapping=None) == []


def test_unknown_fields_sources_and_empty_values_are_refused(template) -> None:
    mapping = {
        **FULL_MAPPING,
        "body": [field("shoe_size"), {"source": "sql", "value": "x"}, attr("  ")],
    }
    errors = mapping_validate(template=template, mapping=mapping)
    assert errors[0].startswith("body placeholder {{1}}: unknown contact field 'shoe_size'")
    assert errors[1].startswith("body placeholder {{2}}: unknown source 'sql'")
    assert errors[2] == "body placeholder {{3}}: the attribute is empty"


@pytest.mark.parametrize("bad", ["line\nbreak", "tab\there", "five     spaces"])
def test_header_literals_and_fallbacks_obey_infobips_header_rules(template, bad) -> None:
    rule = "cannot have new-line/tab characters or more than 4 consecutive spaces"
    mapping = {**FULL_MAPPING, "header": [lit(bad)]}
    assert mapping_validate(template=template, mapping=mapping) == [
        f"header placeholder {{{{1}}}}: {rule}"
    ]
    mapping = {**FULL_MAPPING, "header": [field("first_name", fallback=bad)]}
    assert mapping_validate(template=template, mapping=mapping) == [
        f"header placeholder {{{{1}}}}: the fallback {rule}"
    ]
    ok = {**FULL_MAPPING, "header": [lit("four    spaces")]}
    assert mapping_validate(template=template, mapping=ok) == []


def test_header_must_be_mapped_when_the_template_has_one(template) -> None:
    mapping = {k: v for k, v in FULL_MAPPING.items() if k != "header"}
    assert mapping_validate(template=template, mapping=mapping) == [
        "header placeholder {{1}} is not mapped (the template has 1, the mapping 0)"
    ]
    no_header = build_template(raw_template(structure={"body": {"text": "Hi"}}))
    assert mapping_validate(template=no_header, mapping={"header": [lit("x")]}) == [
        "the template's header takes no value, the mapping gives 1"
    ]


def test_media_header_needs_an_http_url() -> None:
    (raw,) = spec_list_examples()["Media Template"]["templates"]
    media = build_template(raw)
    body = [field("first_name")]
    assert mapping_validate(template=media, mapping={"body": body}) == [
        "header IMAGE URL is not mapped (the template has 1, the mapping 0)"
    ]
    bad = {"body": body, "header": [lit("ftp://files/x.png")]}
    assert mapping_validate(template=media, mapping=bad) == [
        "header IMAGE URL: is not an http(s) URL"
    ]
    good = {"body": body, "header": [lit("https://cdn.example/p.png")]}
    assert mapping_validate(template=media, mapping=good) == []


def test_dynamic_url_button_must_be_mapped_by_its_index(template) -> None:
    mapping = {**FULL_MAPPING, "buttons": []}
    assert mapping_validate(template=template, mapping=mapping) == [
        "button 2 (URL 'Open offer') placeholder {{1}} is not mapped"
    ]
    wrong = {
        **FULL_MAPPING,
        "buttons": [{"index": 0, "slots": [lit("x")]}, {"index": 1, "slots": [lit("a"), lit("b")]}],
    }
    assert mapping_validate(template=template, mapping=wrong) == [
        "button 1 of the template takes no value",
        "button 2 (URL 'Open offer') placeholder {{1}} takes 1 value, the mapping gives 2",
    ]
    spaced = {**FULL_MAPPING, "buttons": [{"index": 1, "slots": [lit("a b")]}]}
    assert "cannot contain spaces" in mapping_validate(template=template, mapping=spaced)[0]


def test_copy_code_values_are_at_most_15_characters() -> None:
    coupon = build_template(
        raw_template(
            structure={
                "body": {"text": "Your coupon"},
                "buttons": [{"type": "COPY_CODE", "text": "Copy"}],
            }
        )
    )
    long = {"buttons": [{"index": 0, "slots": [lit("X" * 16)]}]}
    assert mapping_validate(template=coupon, mapping=long) == [
        "button 1 (COPY_CODE 'Copy') code: is longer than 15 characters"
    ]


def test_an_unsupported_template_cannot_be_mapped() -> None:
    carousel = build_template(
        raw_template(structure={"body": {"text": "x"}, "carousel": {"cards": [{}]}})
    )
    (error,) = mapping_validate(template=carousel, mapping={})
    assert "is not supported by Herald: carousel templates are not supported" in error


# --- per-recipient resolution ---------------------------------------------------------------


def test_resolution_fills_every_placeholder_in_order(template) -> None:
    resolved = mapping_resolve(template=template, mapping=FULL_MAPPING, contact=ANNA)
    assert resolved.missing == []
    values = resolved.values
    assert values.body == ["Anna", "X42", "31 May"]
    assert values.header == "Anna"
    assert values.buttons == [
        {"index": 0, "type": "QUICK_REPLY", "parameter": "Yes please"},
        {"index": 1, "type": "URL", "parameter": "summer-24"},
    ]
    assert values.to_infobip_template_data() == {
        "body": {"placeholders": ["Anna", "X42", "31 May"]},
        "header": {"type": "TEXT", "placeholder": "Anna"},
        "buttons": [
            {"type": "QUICK_REPLY", "parameter": "Yes please"},
            {"type": "URL", "parameter": "summer-24"},
        ],
    }
    assert validate_request("POST", SEND_PATH, send_body(template, values)) == []
    assert TemplateValues.from_dict(values.to_dict()) == values


def test_the_client_builds_a_spec_valid_request_from_the_values(template) -> None:
    values = mapping_resolve(template=template, mapping=FULL_MAPPING, contact=ANNA).values
    message = WhatsAppTemplateMessage(
        to="441134960001",
        sender=template.sender,
        template_name=template.name,
        language=template.language,
        message_id="m-1",
        **values.to_message_fields(),
    )
    body = whatsapp_template_request_body([message])
    assert body["messages"][0]["content"]["templateData"] == values.to_infobip_template_data()
    assert validate_request("POST", SEND_PATH, body) == []


def test_fallbacks_fill_missing_values_and_recipients_without_either_are_skipped(template):
    bare = {"first_name": "  ", "attributes": {"offer_id": "o1"}}
    resolved = mapping_resolve(template=template, mapping=FULL_MAPPING, contact=bare)
    assert resolved.values is None
    assert resolved.missing == [
        "body placeholder {{2}} (attribute 'code') has no value and no fallback"
    ]
    with_fallback = {
        **FULL_MAPPING,
        "body": [field("first_name", "friend"), attr("code", "NONE"), lit("31 May")],
    }
    values = mapping_resolve(template=template, mapping=with_fallback, contact=bare).values
    assert values.body == ["friend", "NONE", "31 May"]
    assert values.header == "there"


def test_header_values_breaking_the_rules_use_the_fallback_or_skip_the_recipient(template):
    odd = {**ANNA, "first_name": "Anna\nMaria"}
    resolved = mapping_resolve(template=template, mapping=FULL_MAPPING, contact=odd)
    assert resolved.values.header == "there"  # fallback; the body accepts the newline
    assert resolved.values.body[0] == "Anna\nMaria"
    no_fallback = {**FULL_MAPPING, "header": [field("first_name")]}
    resolved = mapping_resolve(template=template, mapping=no_fallback, contact=odd)
    assert resolved.values is None
    assert resolved.missing == [
        "header placeholder {{1}} (field 'first_name') cannot have new-line/tab characters "
        "or more than 4 consecutive spaces"
    ]


def test_missing_url_button_value_skips_the_recipient(template) -> None:
    contact = {**ANNA, "attributes": {"code": "X42"}}
    resolved = mapping_resolve(template=template, mapping=FULL_MAPPING, contact=contact)
    assert resolved.missing == [
        "button 2 (URL 'Open offer') placeholder {{1}} (attribute 'offer_id') has no value "
        "and no fallback"
    ]


def test_text_slots_interpolate_fields_and_attributes() -> None:
    plain = build_template(raw_template(structure={"body": {"text": "{{1}}"}}))
    mapping = {"body": [slot_from_text("Dear {{first_name}} from {{city}}", fallback="Dear all")]}
    assert mapping_validate(template=plain, mapping=mapping) == []
    full = {"first_name": "Ana", "attributes": {"city": "Porto"}}
    assert mapping_resolve(template=plain, mapping=mapping, contact=full).values.body == [
        "Dear Ana from Porto"
    ]
    partial = {"first_name": "Ana", "attributes": {}}
    assert mapping_resolve(template=plain, mapping=mapping, contact=partial).values.body == [
        "Dear all"
    ]


def test_slot_from_text_recognises_fields_attributes_and_literals() -> None:
    assert slot_from_text("{{first_name}}") == field("first_name")
    assert slot_from_text("{{ city }}") == attr("city")
    assert slot_from_text("Summer sale") == lit("Summer sale")
    assert slot_from_text("Hi {{first_name}}")["source"] == "text"


def test_media_and_document_headers_produce_spec_valid_template_data() -> None:
    for header in ("IMAGE", "VIDEO", "DOCUMENT"):
        tpl = build_template(
            raw_template(structure={"header": {"format": header}, "body": {"text": "Hi {{1}}"}})
        )
        mapping = {
            "header": [lit("https://cdn.example/files/menu.pdf")],
            "body": [field("first_name")],
        }
        values = mapping_resolve(template=tpl, mapping=mapping, contact=ANNA).values
        data = values.to_infobip_template_data()
        assert data["header"]["type"] == header
        assert data["header"]["mediaUrl"] == "https://cdn.example/files/menu.pdf"
        if header == "DOCUMENT":
            assert data["header"]["filename"] == "menu.pdf"
        assert validate_request("POST", SEND_PATH, send_body(tpl, values)) == []


def test_a_template_without_placeholders_sends_an_empty_placeholder_list() -> None:
    (raw,) = spec_list_examples()["Media Template with Text header"]["templates"]
    tpl = build_template({**raw, "structure": {**raw["structure"], "body": {"text": "Hello"}}})
    values = mapping_resolve(template=tpl, mapping={}, contact=ANNA).values
    assert values.to_infobip_template_data() == {"body": {"placeholders": []}}
    assert validate_request("POST", SEND_PATH, send_body(tpl, values)) == []


def test_the_spec_validator_rejects_a_broken_body() -> None:
    # Proves the validation above can fail: placeholders must be a list of strings.
    example = examples_file("whatsapp_send_template_request_bulk__spec.json")
    assert validate_request("POST", SEND_PATH, example) == []
    example["messages"][0]["content"]["templateData"]["body"]["placeholders"] = "not a list"
    assert validate_request("POST", SEND_PATH, example) != []


def test_contact_values_reads_model_like_objects_defensively() -> None:
    contact = types.SimpleNamespace(first_name="Ana", phone="+351912345678", attributes=None)
    values = contact_values(contact)
    assert values["first_name"] == "Ana"
    assert values["last_name"] is None
    assert values["attributes"] == {}


# --- preview --------------------------------------------------------------------------------


def test_preview_renders_the_message_as_the_recipient_reads_it(template) -> None:
    values = mapping_resolve(template=template, mapping=FULL_MAPPING, contact=ANNA).values
    assert template_render(template=template, values=values) == (
        "Hello Anna\n\n"
        "Hi Anna, your code X42 expires on 31 May.\n\n"
        "Reply STOP to opt out\n\n"
        "[Yes please]\n"
        "[Open offer] https://shop.example/o/summer-24\n"
        "[Call us] tel:441134960000"
    )


def test_preview_without_values_shows_the_placeholders() -> None:
    (raw,) = spec_list_examples()["Media Template with Buttons"]["templates"]
    assert template_render(template=build_template(raw), values=None) == (
        "[image]\n\nexample {{1}} body\n\nexampleFooter\n\n"
        "[Dial 911] tel:911\n[Visit our website] https://www.infobip.com"
    )
