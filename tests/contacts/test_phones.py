"""Phone checks: national and international formats, reasons, types, timezones."""

import re
from unittest import mock

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import phonenumberutil

from contacts.phones import (
    PhoneChecker,
    PhoneError,
    PhoneInfo,
    SequenceKeyer,
    number_type,
    parse_national_digits,
    parse_plus_digits,
    region_and_type,
)


@pytest.mark.parametrize(
    ("raw", "region", "e164", "country", "timezone"),
    [
        ("07400 123456", "GB", "+447400123456", "GB", ""),  # UK mobiles span 4 zones
        ("+44 (0)7400 123456", None, "+447400123456", "GB", ""),
        ("0044 7400 123456", "GB", "+447400123456", "GB", ""),
        ("(212) 555-0147", "US", "+12125550147", "US", "America/New_York"),
        ("+1 212 555 0147", None, "+12125550147", "US", "America/New_York"),
        ("0151 23456789", "DE", "+4915123456789", "DE", "Europe/Berlin"),
        ("06 12 34 56 78", "FR", "+33612345678", "FR", "Europe/Paris"),
        ("98765 43210", "IN", "+919876543210", "IN", "Asia/Calcutta"),
        ("(11) 98765-4321", "BR", "+5511987654321", "BR", "America/Sao_Paulo"),
        ("0803 123 4567", "NG", "+2348031234567", "NG", "Africa/Lagos"),
        ("8 916 123-45-67", "RU", "+79161234567", "RU", ""),  # Russia spans 11 zones
        ("+61 412 345 678", "GB", "+61412345678", "AU", ""),  # international wins
    ],
)
def test_national_and_international_formats_normalise_to_e164(
    raw, region, e164, country, timezone
) -> None:
    info = PhoneChecker(region).check(raw)
    assert (info.e164, info.country, info.timezone, info.warning) == (e164, country, timezone, "")


@pytest.mark.parametrize(
    ("raw", "region", "code"),
    [
        ("07400 123456", None, "INVALID_COUNTRY_CODE"),  # national format, no region given
        ("+999 123 456", None, "INVALID_COUNTRY_CODE"),
        ("hello", "GB", "NOT_A_NUMBER"),
        ("+44 7400 1234567890", None, "TOO_LONG"),
        ("+44 74", None, "TOO_SHORT"),
        ("12345", "GB", "TOO_SHORT"),
        ("07400 12345", "GB", "INVALID_NUMBER"),
        ("0800 123 4567", "GB", "NOT_MOBILE"),  # toll-free
        ("09065 123456", "GB", "NOT_MOBILE"),  # premium rate
        ("+1 800 555 0199", None, "NOT_MOBILE"),
    ],
)
def test_unusable_numbers_are_refused_with_a_coded_reason(raw, region, code) -> None:
    with pytest.raises(PhoneError) as excinfo:
        PhoneChecker(region).check(raw)
    assert str(excinfo.value).startswith(f"{code}: ")


def test_national_format_without_region_says_how_to_fix_it() -> None:
    with pytest.raises(PhoneError, match="needs --default-region"):
        PhoneChecker().check("07400 123456")


def test_landline_is_usable_with_a_warning() -> None:
    info = PhoneChecker("GB").check("020 7946 0018")
    assert info.e164 == "+442079460018"
    assert info.warning.startswith("LANDLINE: ")
    assert info.timezone == "Europe/London"


def test_unknown_default_region_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown region"):
        PhoneChecker("XX")


@settings(max_examples=300, deadline=None)
@given(
    country_code=st.sampled_from([1, 7, 33, 44, 49, 55, 61, 91, 234, 262, 590, 599]),
    national=st.integers(min_value=10**5, max_value=10**11),
)
def test_region_and_type_agrees_with_phonenumbers_public_api(country_code, national) -> None:
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=national)
    assert region_and_type(number) == (
        phonenumbers.region_code_for_number(number),
        phonenumbers.number_type(number),
    )


@settings(max_examples=500, deadline=None)
@given(
    country_code=st.sampled_from(sorted(phonenumberutil.COUNTRY_CODE_TO_REGION_CODE)),
    national=st.text("0123456789", min_size=0, max_size=15),
)
def test_plus_digits_fast_path_and_type_table_agree_with_phonenumbers(
    country_code, national
) -> None:
    digits = f"{country_code}{national}"
    try:
        want = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        want = None
    got = parse_plus_digits(digits)
    if got is not None:  # None: the library parses it (errors, national prefixes, leading 0)
        assert got == want
    if want is not None:
        nsn = phonenumbers.national_significant_number(want)
        for region in phonenumberutil.COUNTRY_CODE_TO_REGION_CODE[want.country_code]:
            metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
                want.country_code, region
            )
            if metadata is not None:
                assert number_type(nsn, metadata) == phonenumberutil._number_type_helper(
                    nsn, metadata
                )


@pytest.mark.parametrize(
    "digits", ["447400123456", "4915123456789", "12125550147", "41793026727", "33612345678"]
)
def test_plus_digits_fast_path_takes_common_mobiles(digits) -> None:
    assert parse_plus_digits(digits) == phonenumbers.parse("+" + digits)


@pytest.mark.parametrize("digits", ["4407400123456", "0441234567", "999123456789", "44", "4٤4"])
def test_plus_digits_fast_path_leaves_the_rest_to_the_library(digits) -> None:
    assert parse_plus_digits(digits) is None


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("+44 7400 123456", 447400123456),
        ("07400 123456", 447400123456),
        ("0044 7400-123456", 447400123456),
        ("+44 (0)7400 123456", 447400123456),
        ("", None),
        ("n/a", None),
    ],
)
def test_sequence_key_equates_common_formats(raw, key) -> None:
    assert SequenceKeyer("GB").key(raw) == key


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("41793026727", None, "+41793026727"),  # Infobip's own format
        ("41793026727", "GB", "+41793026727"),
        ("41 79 302 67 27", "US", "+41793026727"),
        ("0041793026727", None, "+41793026727"),
        ("0041 79 302 67 27", "GB", "+41793026727"),
        ("00 61 412 345 678", None, "+61412345678"),
        ("447946000101", None, "+447946000101"),
        ("447946000101", "GB", "+447946000101"),  # the region's own code: one reading
    ],
)
def test_infobip_format_and_00_numbers_normalise_with_or_without_a_region(
    raw, region, e164
) -> None:
    info = PhoneChecker(region).check(raw)
    assert info.e164 == e164
    assert not info.warning.startswith("AMBIGUOUS")


def test_infobip_digits_under_another_region_say_which_reading_was_taken() -> None:
    info = PhoneChecker("GB").check("41793026727")
    assert info.warning == (
        "INTERNATIONAL_DIGITS: not a GB number; read as international digits without + "
        "(+41793026727)"
    )


def test_a_number_valid_both_ways_is_read_as_national_with_the_other_reading_in_the_warning():
    # 16027335231 is a German mobile (016…) and, as international digits, a Phoenix number.
    for reading in (phonenumbers.parse("16027335231", "DE"), phonenumbers.parse("+16027335231")):
        assert phonenumbers.is_valid_number(reading)
    info = PhoneChecker("DE").check("16027335231")
    assert info.e164 == "+4916027335231"
    assert info.warning == (
        "AMBIGUOUS_NUMBER: read as a national DE number +4916027335231; "
        "the other reading is +16027335231"
    )


def test_a_mobile_reading_beats_a_landline_one() -> None:
    # Infobip's format of a German mobile also reads as a (13-digit) German landline.
    assert phonenumbers.is_valid_number(phonenumbers.parse("4915123456789", "DE"))
    info = PhoneChecker("DE").check("4915123456789")
    assert info.e164 == "+4915123456789"
    assert info.warning == (
        "AMBIGUOUS_NUMBER: read as international digits without + +4915123456789; "
        "the other reading is +494915123456789"
    )


def test_digits_without_a_region_that_are_not_international_say_how_to_fix_it() -> None:
    with pytest.raises(PhoneError, match="read as international digits without \\+"):
        PhoneChecker().check("7400123456")


def _example_nsns() -> list[str]:
    """Example national numbers of every region and type (the metadata's own), for seeding."""
    found = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        for name in (
            "fixed_line",
            "mobile",
            "toll_free",
            "premium_rate",
            "shared_cost",
            "voip",
            "personal_number",
            "pager",
            "uan",
            "voicemail",
        ):
            desc = getattr(metadata, name)
            if desc is not None and desc.example_number:
                found.add((region, metadata.country_code, desc.example_number))
    return sorted(found)


_EXAMPLES = _example_nsns()
_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
# A valid example with its tail replaced: mostly valid numbers of many types, some not.
_seeded_nsn = st.builds(
    lambda example, keep, tail: example[2][: max(0, len(example[2]) - keep)] + tail,
    st.sampled_from(_EXAMPLES),
    st.integers(0, 6),
    st.text("0123456789", max_size=7),
)


def _slow(text: str, region: str | None) -> PhoneInfo | str:
    """`PhoneChecker(region).check(text)` with every fast path off: the library's answers only."""
    with (
        mock.patch("contacts.phones.parse_plus_digits", return_value=None),
        mock.patch("contacts.phones.parse_national_digits", return_value=None),
        mock.patch("contacts.phones.number_type", phonenumberutil._number_type_helper),
    ):
        return _outcome(text, region)


def _outcome(text: str, region: str | None) -> PhoneInfo | str:
    try:
        return PhoneChecker(region).check(text)
    except PhoneError as exc:
        return f"PhoneError: {exc}"


def test_metadata_patterns_have_no_groups_of_their_own() -> None:
    # number_type's alternation names one group per description: an inner group or
    # backreference would shift them.
    for country_code, regions in phonenumberutil.COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
                country_code, region
            )
            for name in (
                "general_desc",
                "fixed_line",
                "mobile",
                "toll_free",
                "premium_rate",
                "shared_cost",
                "voip",
                "personal_number",
                "pager",
                "uan",
                "voicemail",
            ):
                desc = metadata and getattr(metadata, name)
                if desc is not None and desc and desc.national_number_pattern:
                    assert re.compile(desc.national_number_pattern).groups == 0
                    assert "(?P" not in desc.national_number_pattern


@settings(max_examples=1500, deadline=None)
@given(example=st.sampled_from(_EXAMPLES), nsn=_seeded_nsn)
def test_type_alternation_agrees_with_phonenumbers_on_numbers_near_real_ones(example, nsn) -> None:
    for region in phonenumberutil.COUNTRY_CODE_TO_REGION_CODE[example[1]]:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
            example[1], region
        )
        if metadata is not None:
            assert number_type(nsn, metadata) == phonenumberutil._number_type_helper(nsn, metadata)


@settings(max_examples=1500, deadline=None)
@given(
    region=st.sampled_from(_REGIONS),
    prefix=st.sampled_from(["", "", "0", "1", "8", "9", "00", "011", "15", "44", "49"]),
    nsn=_seeded_nsn,
    separators=st.lists(st.sampled_from(["", "", "", " ", "-"]), min_size=20, max_size=20),
)
def test_national_digits_fast_path_agrees_with_phonenumbers(
    region, prefix, nsn, separators
) -> None:
    digits = prefix + nsn
    text = "".join(d + sep for d, sep in zip(digits, separators, strict=False)) + digits[20:]
    try:
        want = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        want = None
    got = parse_national_digits(text.replace(" ", "").replace("-", ""), region)
    if got is not None:  # None: the library parses it
        assert got == want


@pytest.mark.parametrize(
    ("digits", "region"), [("07400123456", "GB"), ("015123456789", "DE"), ("0612345678", "FR")]
)
def test_national_digits_fast_path_takes_common_mobiles(digits, region) -> None:
    assert parse_national_digits(digits, region) == phonenumbers.parse(digits, region)


_formats = st.sampled_from(
    [
        "+{cc}{nsn}",
        "+{cc} {nsn}",
        "00{cc}{nsn}",
        "{cc}{nsn}",
        "0{nsn}",
        "{nsn}",
        "{prefix}{nsn}",
        "+{cc}-{nsn}",
        "0{nsn}x",
        "+0{nsn}",
    ]
)


@settings(max_examples=1500, deadline=None)
@given(
    example=st.sampled_from(_EXAMPLES),
    nsn=_seeded_nsn,
    form=_formats,
    region=st.one_of(
        st.none(),
        st.sampled_from(["GB", "DE", "US", "FR", "IT", "BR", "IN"]),
        st.sampled_from(_REGIONS),
    ),
)
def test_checks_with_fast_paths_agree_with_the_library_alone(example, nsn, form, region) -> None:
    # Every rule (readings, ambiguity and international-digits warnings, NOT_MOBILE, reasons)
    # comes out the same whether the fast paths answer or phonenumbers does.
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region or "GB")
    text = form.format(cc=example[1], nsn=nsn, prefix=metadata.national_prefix or "")
    assert _outcome(text, region) == _slow(text, region)
