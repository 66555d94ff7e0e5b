"""Placeholders: fallbacks, missing values, contact fields and attributes, malformed braces."""

from types import SimpleNamespace

import pytest

from campaigns.rendering import (
    Rendered,
    compile_template,
    contact_values,
    placeholder_names,
    render_text,
    sms_segments,
)


def test_placeholder_names_are_distinct_in_order_of_first_use() -> None:
    text = "{{ b }} {{a|x}} {{b}} {{c|}} {{ first_name | there }}"
    assert placeholder_names(text) == ["b", "a", "c", "first_name"]


def test_values_fill_placeholders_and_repeat() -> None:
    rendered = render_text(
        "{{name}}, {{name}}! Your code: {{ code }}.", {"name": "Ann", "code": "7"}
    )
    assert rendered == Rendered("Ann, Ann! Your code: 7.", [])
    assert rendered.skip_reason is None


@pytest.mark.parametrize("value", [None, "", "   ", "\n"])
def test_absent_or_blank_value_uses_the_fallback(value) -> None:
    values = {} if value is None else {"first_name": value}
    rendered = render_text("Hi {{ first_name | dear customer }}!", values)
    assert rendered == Rendered("Hi dear customer!", [])


def test_empty_fallback_makes_a_placeholder_optional() -> None:
    assert render_text("Hi{{title|}} Ann", {}).text == "Hi Ann"
    assert render_text("Hi {{title|}} Ann", {"title": "Dr"}).text == "Hi Dr Ann"


def test_missing_values_without_fallback_are_reported_once_each() -> None:
    rendered = render_text("{{city}} {{first_name}} {{city}} {{zip|-}}", {"first_name": "Bo"})
    assert rendered.missing == ["city"]
    assert rendered.text == "{{city}} Bo {{city}} -"  # left in for the preview, never sent
    assert rendered.skip_reason == "missing value for {{city}}"
    both = render_text("{{ a }}{{b}}", {})
    assert both.missing == ["a", "b"]
    assert both.skip_reason == "missing value for {{a}}, {{b}}"


@pytest.mark.parametrize(
    "text",
    [
        "{{ }}",
        "{{}}",
        "{x}",
        "{ {x} }",
        "{{1st}}",
        "{{a b}}",
        "{{first_name",
        "first_name}}",
        "{{a|{b}}}",
        "50% off {today} | price {{ }}",
    ],
)
def test_malformed_braces_are_left_literally(text: str) -> None:
    assert placeholder_names(text) == []
    assert render_text(text, {"x": "X", "a": "A", "first_name": "F"}) == Rendered(text, [])


def test_triple_braces_keep_the_outer_brace() -> None:
    assert render_text("{{{first_name}}}", {"first_name": "Ann"}).text == "{Ann}"


def test_values_are_inserted_verbatim_never_expanded() -> None:
    rendered = render_text("{{a}}", {"a": "{{b}}", "b": "no"})
    assert rendered == Rendered("{{b}}", [])


def test_fallback_keeps_inner_spaces_and_bars() -> None:
    assert render_text("{{x| a | b }}", {}).text == "a | b"


def test_names_are_case_sensitive_and_may_use_dots_and_dashes() -> None:
    values = {"City": "Oslo", "loyalty.tier": "gold", "zip-code": "0150"}
    assert render_text("{{city|?}} {{City}} {{loyalty.tier}} {{zip-code}}", values).text == (
        "? Oslo gold 0150"
    )


def test_compiled_template_is_cached_and_reusable() -> None:
    template = compile_template("Hi {{first_name|there}}")
    assert compile_template("Hi {{first_name|there}}") is template
    assert template.names == ["first_name"]
    assert [template.render({"first_name": n}).text for n in ("A", "", "C")] == [
        "Hi A",
        "Hi there",
        "Hi C",
    ]
    plain = compile_template("No placeholders {here}")
    assert plain.render({}) == Rendered("No placeholders {here}", [])


def test_unicode_value_changes_the_encoding_after_rendering() -> None:
    text = "Hi {{first_name}}, 20% off today only!"
    assert sms_segments(text).encoding == "GSM-7"
    assert sms_segments(render_text(text, {"first_name": "José"}).text).encoding == "GSM-7"
    turkish = sms_segments(render_text(text, {"first_name": "Şebnem"}).text)
    assert (turkish.encoding, turkish.ucs2_chars, turkish.length) == ("UCS-2", ("Ş",), 30)
    emoji = sms_segments(render_text(text, {"first_name": "Zoë 🌸"}).text)
    assert (emoji.encoding, emoji.ucs2_chars, emoji.length) == ("UCS-2", ("ë", "🌸"), 30)


def _contact(**overrides):
    fields = {
        "phone": "+447700900123",
        "first_name": "Ann",
        "last_name": "",
        "language": "en",
        "country": "GB",
        "timezone": "Europe/London",
        "attributes": {},
    }
    return SimpleNamespace(**(fields | overrides))


def test_contact_values_merge_fields_over_attributes() -> None:
    contact = _contact(
        attributes={
            "first_name": "Annie",  # a field of the same name wins
            "last_name": "Smith",  # an empty field lets the attribute through
            "city": " Leeds ",
            "visits": 3,
            "vip": True,
            "score": 4.5,
            "notes": None,
            "tags": ["a", "b"],
            "blank": "  ",
        }
    )
    assert contact_values(contact) == {
        "first_name": "Ann",
        "last_name": "Smith",
        "phone": "+447700900123",
        "language": "en",
        "country": "GB",
        "timezone": "Europe/London",
        "city": "Leeds",
        "visits": "3",
        "vip": "true",
        "score": "4.5",
    }


def test_contact_values_work_with_any_object() -> None:
    minimal = SimpleNamespace(phone="+15551234567")  # no attributes, no other fields
    assert contact_values(minimal) == {"phone": "+15551234567"}
    assert contact_values(_contact(attributes=None))["first_name"] == "Ann"


def test_rendering_a_contact_end_to_end() -> None:
    contact = _contact(attributes={"city": "Leeds"})
    template = compile_template("{{first_name}} {{last_name|}}, see you in {{city}} ({{store}})")
    rendered = template.render(contact_values(contact))
    assert rendered.missing == ["store"]
    assert rendered.skip_reason == "missing value for {{store}}"
    fixed = template.render(contact_values(_contact(attributes={"city": "Leeds", "store": "#4"})))
    assert fixed == Rendered("Ann , see you in Leeds (#4)", [])


def test_named_contact_values_are_the_full_ones_restricted_to_those_names() -> None:
    contact = _contact(
        first_name="",  # an empty field lets the attribute through, as in the full values
        attributes={"first_name": "Annie", "city": "Leeds", "country": "XX", "tags": ["a"]},
    )
    names = ["first_name", "city", "country", "tags", "store", "phone"]
    full = contact_values(contact)
    assert contact_values(contact, names) == {k: v for k, v in full.items() if k in names}
    assert contact_values(contact, names)["first_name"] == "Annie"
    assert contact_values(contact, names)["country"] == "GB"
    assert contact_values(SimpleNamespace(phone="+1555"), ["phone", "x"]) == {"phone": "+1555"}
