"""Reading Infobip template objects: placeholders, statuses, and what Herald cannot send."""

import pytest
from django.utils import timezone

from tests.whatsapp.conftest import build_template, raw_template, spec_list_examples
from whatsapp.structure import MalformedTemplate, parse_template, placeholder_tokens

SPEC = spec_list_examples()


def test_the_spec_has_the_four_list_examples() -> None:
    assert set(SPEC) == {
        "Media Template",
        "Media Template with Text header",
        "Media Template with Buttons",
        "Text template",
    }


@pytest.mark.parametrize(
    ("example", "header_format", "header", "buttons"),
    [
        ("Media Template", "IMAGE", 1, []),
        ("Media Template with Text header", "TEXT", 0, []),
        ("Media Template with Buttons", "IMAGE", 1, []),  # phone + static URL need no value
        ("Text template", "", 0, []),
    ],
)
def test_spec_examples_parse_with_counted_placeholders(example, header_format, header, buttons):
    (raw,) = SPEC[example]["templates"]
    parsed = parse_template(raw)
    assert parsed.supported, parsed.unsupported_reason
    assert (parsed.name, parsed.language, parsed.status) == (raw["name"], "en", "APPROVED")
    assert parsed.category == "MARKETING"
    assert parsed.quality == raw["quality"]
    assert parsed.infobip_id == "111"
    assert parsed.body_text == "example {{1}} body"
    assert parsed.header_format == header_format
    assert parsed.placeholders["body"] == 1
    assert parsed.placeholders["header"] == header
    assert parsed.placeholders["buttons"] == buttons
    assert parsed.placeholder_warning == ""


def test_placeholders_are_counted_once_and_ordered_by_number() -> None:
    assert placeholder_tokens("{{2}} then {{1}} then {{ 2 }} and {{10}}") == ["1", "2", "10"]
    assert placeholder_tokens("no placeholders, {single} {{}}") == []
    assert placeholder_tokens("{{name}} and {{city}} and {{name}}") == ["name", "city"]


def test_header_body_and_button_placeholders_of_a_full_template() -> None:
    parsed = parse_template(raw_template())
    assert parsed.supported
    assert parsed.placeholders == {
        "header": 1,
        "body": 3,
        "buttons": [
            {"index": 0, "type": "QUICK_REPLY", "placeholders": 0},
            {"index": 1, "type": "URL", "placeholders": 1},
        ],
        "tokens": {"header": ["1"], "body": ["1", "2", "3"]},
    }


def test_copy_code_button_takes_a_value() -> None:
    raw = raw_template(
        structure={
            "body": {"text": "Your coupon"},
            "buttons": [{"type": "COPY_CODE", "text": "Copy"}],
        }
    )
    assert parse_template(raw).placeholders["buttons"] == [
        {"index": 0, "type": "COPY_CODE", "placeholders": 1}
    ]


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        ("Hi {{1}} and {{3}}", "body placeholders are not numbered 1..2 ({{1}}, {{3}})"),
        ("Hi {{first_name}}", "body uses named placeholders ({{first_name}})"),
    ],
)
def test_gaps_and_named_placeholders_are_flagged_but_supported(body, warning) -> None:
    parsed = parse_template(raw_template(structure={"body": {"text": body}}))
    assert parsed.supported
    assert warning in parsed.placeholder_warning


@pytest.mark.parametrize(
    ("structure", "reason"),
    [
        ({"body": {"text": "x"}, "type": "UNSUPPORTED"}, "structure as UNSUPPORTED"),
        ({"body": {"text": "x"}, "carousel": {"cards": [{"body": {"text": "c"}}]}}, "carousel"),
        ({"header": {"format": "LOCATION"}, "body": {"text": "x"}}, "header format LOCATION"),
        ({"header": {"format": "HOLOGRAM"}, "body": {"text": "x"}}, "header format HOLOGRAM"),
        (
            {"header": {"format": "TEXT", "text": "{{1}} {{2}}"}, "body": {"text": "x"}},
            "text header has 2 placeholders",
        ),
        (
            {"body": {"text": "x"}, "buttons": [{"type": "FLOW", "text": "Go", "flowId": 1}]},
            "button 1 of type FLOW is not supported",
        ),
        (
            {"body": {"text": "x"}, "buttons": [{"type": "URL", "url": "https://a/{{1}}/{{2}}"}]},
            "URL button 1 has 2 placeholders",
        ),
        (
            {"body": {"text": "x"}, "limitedTimeOffer": {"text": "Sale", "hasExpiration": True}},
            "limited-time offers",
        ),
        ({"header": {"format": "TEXT", "text": "t"}}, "no body text"),
        ({"body": "not an object"}, "no body text"),
        ({"body": {"text": "x"}, "buttons": "nope"}, "buttons are not a list"),
    ],
)
def test_unsupported_structures_are_marked_with_a_reason(structure, reason) -> None:
    parsed = parse_template(raw_template(structure=structure))
    assert not parsed.supported
    assert reason in parsed.unsupported_reason


def test_missing_structure_and_order_status_are_unsupported() -> None:
    raw = raw_template()
    del raw["structure"]
    assert parse_template(raw).unsupported_reason == "the template has no structure"
    order = raw_template(category="UTILITY", subCategory="ORDER_STATUS")
    assert "ORDER_STATUS" in parse_template(order).unsupported_reason


@pytest.mark.parametrize("raw", [None, "text", {"language": "en"}, {"name": "x"}, {"name": " "}])
def test_templates_without_a_key_are_malformed(raw) -> None:
    with pytest.raises(MalformedTemplate):
        parse_template(raw)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("PENDING", "template 'promo' (en) is PENDING Meta's review"),
        ("REJECTED", "template 'promo' (en) was REJECTED by Meta"),
        ("FIRST_PAUSED", "template 'promo' (en) is PAUSED on Infobip"),
        ("SECOND_PAUSED", "template 'promo' (en) is PAUSED on Infobip"),
        ("DISABLED", "template 'promo' (en) is DISABLED on Infobip"),
        ("DELETED", "template 'promo' (en) was DELETED on Infobip"),
        ("IN_APPEAL", "IN_APPEAL"),
        ("FLAGGED", "FLAGGED"),
        ("REINSTATED", "REINSTATED"),
        ("SOMETHING_NEW", "has status SOMETHING_NEW on Infobip; only APPROVED can be sent"),
    ],
)
def test_only_approved_templates_are_sendable(status, reason) -> None:
    template = build_template(raw_template(status=status))
    assert not template.is_sendable
    assert reason in template.unsendable_reason
    assert build_template(raw_template(status="APPROVED")).unsendable_reason is None


def test_unsupported_or_removed_templates_are_not_sendable_even_when_approved() -> None:
    removed = build_template(raw_template())
    removed.removed_upstream_at = timezone.now()
    assert "no longer exists on Infobip" in removed.unsendable_reason
    unsupported = build_template(
        raw_template(structure={"body": {"text": "x"}, "type": "UNSUPPORTED"})
    )
    assert "is not supported by Herald" in unsupported.unsendable_reason
