"""Phone checks: national and international formats, reasons, types, timezones."""

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import phonenumberutil

from contacts.phones import (
    PhoneChecker,
    PhoneError,
    SequenceKeyer,
    number_type,
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
