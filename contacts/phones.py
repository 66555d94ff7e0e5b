"""Phone number checks for contacts: parse, validate, classify and normalise to E.164.

Every reason starts with a stable code (TOO_SHORT, INVALID_NUMBER, NOT_MOBILE, ...) so the
errors file can be filtered and tests can assert on it; the rest is for people.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType, phonenumberutil
from phonenumbers import ValidationResult as VR
from phonenumbers import timezone as pn_timezone
from phonenumbers.re_util import re_compile

# Reuse compiled metadata patterns instead of re-compiling them on every match: the number-type
# checks run a dozen regular expressions per number, and imports run millions of numbers.
phonenumbers.enable_pattern_cache()

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: ("INVALID_COUNTRY_CODE", "unknown country code"),
    NumberParseException.NOT_A_NUMBER: ("NOT_A_NUMBER", "not a phone number"),
    NumberParseException.TOO_SHORT_AFTER_IDD: ("TOO_SHORT", "too short after the 00 prefix"),
    NumberParseException.TOO_SHORT_NSN: ("TOO_SHORT", "too short"),
    NumberParseException.TOO_LONG: ("TOO_LONG", "too long"),
}
_POSSIBLE_ERRORS = {
    VR.INVALID_COUNTRY_CODE: ("INVALID_COUNTRY_CODE", "unknown country code"),
    VR.TOO_SHORT: ("TOO_SHORT", "too short"),
    VR.TOO_LONG: ("TOO_LONG", "too long"),
    VR.INVALID_LENGTH: ("INVALID_LENGTH", "wrong number of digits"),
    VR.IS_POSSIBLE_LOCAL_ONLY: ("TOO_SHORT", "too short (a local number without its area code?)"),
}
_TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.TOLL_FREE: "toll-free number",
    PhoneNumberType.PREMIUM_RATE: "premium-rate number",
    PhoneNumberType.SHARED_COST: "shared-cost number",
    PhoneNumberType.VOIP: "VoIP number",
    PhoneNumberType.PERSONAL_NUMBER: "personal (follow-me) number",
    PhoneNumberType.PAGER: "pager number",
    PhoneNumberType.UAN: "company (UAN) number",
    PhoneNumberType.VOICEMAIL: "voicemail access number",
    PhoneNumberType.UNKNOWN: "number of unknown type",
}
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_UNKNOWN_ZONE = "Etc/Unknown"


# Spaces, dashes, dots and brackets people write inside numbers; what is left must be digits
# for the digits-only readings (Infobip format, `00` prefix) to apply.
_FORMATTING = re.compile(r"[\s\-.()/]+")


class PhoneError(ValueError):
    """A number that cannot be a contact's phone; `str()` is the reason with its code."""


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    """A usable number: E.164, its region, a timezone when unambiguous, an optional warning."""

    e164: str
    country: str
    timezone: str
    warning: str = ""


def _with_warning(info: "PhoneInfo", note: str) -> "PhoneInfo":
    warning = f"{info.warning}; {note}" if info.warning else note
    return PhoneInfo(info.e164, info.country, info.timezone, warning)


def _is_landline(info: "PhoneInfo") -> bool:
    return info.warning.startswith("LANDLINE")


class PhoneChecker:
    """Checks numbers against one default region; holds only per-country-code timezone data."""

    def __init__(self, default_region: str | None = None) -> None:
        self.default_region = default_region.upper() if default_region else None
        if self.default_region and self.default_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {default_region!r} (use ISO codes such as GB, US)")
        # Timezones of numbers without a geographical prefix depend only on the country code.
        self._country_zones: dict[int, tuple[str, ...]] = {}

    def check(self, raw: str) -> PhoneInfo:
        """Parse `raw` and return the normalised number, or raise PhoneError with the reason.

        Besides E.164 and national formats (with the default region), it takes Infobip's own
        format (international digits without `+`, `41793026727`) and `00`-prefixed numbers,
        with or without a default region. A digits-only value that is valid both as a national
        number of the default region and as international digits is read as national (unless
        only the international reading is a mobile), and the warning gives the other reading.
        """
        text = raw.strip()
        compact = _FORMATTING.sub("", text)
        if compact.startswith("00") and compact[2:].isdigit():
            return self._check(self._parse("+" + compact[2:], None))
        if not compact.isdigit():
            return self._check(self._parse(text, self.default_region))
        if self.default_region is None:
            try:
                return self._check(self._parse("+" + compact, None))
            except PhoneError as exc:
                raise PhoneError(
                    f"{exc} (read as international digits without +; a national number needs "
                    "--default-region)"
                ) from None
        national = self._try(text, self.default_region)
        if compact[0] == "0":  # "+0…" has no country code: the international reading fails
            if isinstance(national, PhoneInfo):
                return national
            raise national
        international = self._try("+" + compact, None)
        if not isinstance(international, PhoneInfo):
            if isinstance(national, PhoneInfo):
                return national
            raise national
        if not isinstance(national, PhoneInfo):
            note = (
                f"INTERNATIONAL_DIGITS: not a {self.default_region} number; read as international "
                f"digits without + ({international.e164})"
            )
            return _with_warning(international, note)
        if national.e164 == international.e164:
            return national
        # Valid both ways: a mobile reading beats a landline one (a German mobile in Infobip's
        # format also reads as a long German landline); otherwise the file's region wins.
        if _is_landline(national) and not _is_landline(international):
            taken, other, how = international, national, "as international digits without +"
        else:
            taken, other, how = (
                national,
                international,
                f"as a national {self.default_region} number",
            )
        note = f"AMBIGUOUS_NUMBER: read {how} {taken.e164}; the other reading is {other.e164}"
        return _with_warning(taken, note)

    def _try(self, text: str, region: str | None) -> "PhoneInfo | PhoneError":
        try:
            return self._check(self._parse(text, region))
        except PhoneError as exc:
            return exc

    def _parse(self, text: str, region: str | None) -> phonenumbers.PhoneNumber:
        if text[:1] == "+":
            fast = parse_plus_digits(text[1:].replace(" ", "").replace("-", ""))
            if fast is not None:
                return fast
        elif region is not None:
            fast = parse_national_digits(text.replace(" ", "").replace("-", ""), region)
            if fast is not None:
                return fast
        try:
            return phonenumbers.parse(text, region)
        except NumberParseException as exc:
            code, text = _PARSE_ERRORS.get(exc.error_type, ("NOT_A_NUMBER", "not a phone number"))
            if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and not region:
                text = "national format needs --default-region (or write it as +<country code>…)"
            raise PhoneError(f"{code}: {text}") from None

    def _check(self, number: phonenumbers.PhoneNumber) -> PhoneInfo:
        nsn = phonenumbers.national_significant_number(number)
        region, ntype = _region_and_type(_code(number), nsn)
        if ntype == PhoneNumberType.UNKNOWN:
            raise PhoneError(self._invalid_reason(number))
        if ntype not in _MOBILE_TYPES and ntype != PhoneNumberType.FIXED_LINE:
            raise PhoneError(f"NOT_MOBILE: {_TYPE_NAMES.get(ntype, 'not a mobile number')}")
        warning = ""
        if ntype == PhoneNumberType.FIXED_LINE:
            warning = "LANDLINE: fixed-line number; SMS and WhatsApp may not reach it"
        zones = self._zones(number, ntype)
        return PhoneInfo(
            e164=f"+{_code(number)}{nsn}",  # what format_number(E164) returns
            country=region if region is not None and len(region) == 2 else "",
            timezone=zones[0] if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE else "",
            warning=warning,
        )

    def _zones(self, number: phonenumbers.PhoneNumber, ntype: int) -> tuple[str, ...]:
        if phonenumbers.is_number_type_geographical(ntype, _code(number)):
            return tuple(pn_timezone.time_zones_for_geographical_number(number))
        zones = self._country_zones.get(_code(number))
        if zones is None:
            zones = tuple(pn_timezone.time_zones_for_number(number))
            self._country_zones[_code(number)] = zones
        return zones

    @staticmethod
    def _invalid_reason(number: phonenumbers.PhoneNumber) -> str:
        possible = phonenumbers.is_possible_number_with_reason(number)
        if possible in _POSSIBLE_ERRORS:
            code, text = _POSSIBLE_ERRORS[possible]
            return f"{code}: {text}"
        region = phonenumbers.region_code_for_country_code(_code(number))
        return f"INVALID_NUMBER: not a number in use in the numbering plan of {region}"


def region_and_type(number: phonenumbers.PhoneNumber) -> tuple[str | None, int]:
    """`region_code_for_number` and `number_type` in one go (same results, half the work).

    The public functions each look the region up, and for shared country codes (+1, +44, +7)
    that lookup already runs the type patterns; this runs them once. It mirrors
    phonenumberutil's own `_region_code_for_number_from_list`; tests compare the two.
    """
    return _region_and_type(_code(number), phonenumbers.national_significant_number(number))


def _code(number: phonenumbers.PhoneNumber) -> int:
    """The number's country calling code (a parsed number always has one)."""
    if number.country_code is None:
        raise PhoneError("INVALID_COUNTRY_CODE: no country calling code")
    return number.country_code


def _metadata(country_code: int, region: str) -> Any:
    """`metadata_for_region_or_calling_code`, remembered (the library takes a lock each time)."""
    found = _METADATA.get((country_code, region))
    if found is None:
        found = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        if found is not None:
            _METADATA[country_code, region] = found
    return found


_METADATA: dict[tuple[int, str], Any] = {}


def _region_and_type(country_code: int, nsn: str) -> tuple[str | None, int]:
    """region_and_type of a country code and national significant number."""
    regions = phonenumberutil.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return None, PhoneNumberType.UNKNOWN
    if len(regions) == 1:
        metadata = _metadata(country_code, regions[0])
        if metadata is None:
            return regions[0], PhoneNumberType.UNKNOWN
        return regions[0], number_type(nsn, metadata)
    for region in regions:
        metadata = _metadata(country_code, region)  # shared codes list no "001" entity
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re_compile(metadata.leading_digits).match(nsn):
                return region, number_type(nsn, metadata)
            continue
        ntype = number_type(nsn, metadata)
        if ntype != PhoneNumberType.UNKNOWN:
            return region, ntype
    return None, PhoneNumberType.UNKNOWN


# Per metadata object: the general description's (lengths, fullmatch), whether fixed-line and
# mobile share one pattern, the mobile entry, and per NSN length one compiled alternation of the
# descriptions that allow that length, in _number_type_helper's order.
_TypeEntry = tuple[frozenset[int], "Callable[[str], re.Match[str] | None]"] | None
_SPECIAL_TYPES = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)
_FIXED = -1  # stands for the fixed-line alternative (its match needs the mobile check after it)
_Alternation = tuple["Callable[[str], re.Match[str] | None] | None", dict[str, int]]


class _TypeTable:
    """One metadata object's type descriptions, compiled once, one alternation per length."""

    __slots__ = ("by_length", "descs", "general", "metadata", "mobile", "same")

    def __init__(self, metadata: Any) -> None:
        self.metadata = metadata  # kept so the id() key cannot be reused by another object
        self.general = _entry(metadata.general_desc)
        self.mobile = _entry(metadata.mobile)
        self.same = bool(metadata.same_mobile_and_fixed_line_pattern)
        descs = [(ntype, getattr(metadata, name)) for name, ntype in _SPECIAL_TYPES]
        descs.append((_FIXED, metadata.fixed_line))
        if not self.same:
            descs.append((PhoneNumberType.MOBILE, metadata.mobile))
        self.descs = [(ntype, desc) for ntype, desc in descs if _entry(desc) is not None]
        self.by_length: dict[int, _Alternation] = {}

    def alternation(self, length: int) -> _Alternation:
        """The descriptions allowing `length`, as `(?P<tN>…)|…` in order; first match wins."""
        found = self.by_length.get(length)
        if found is None:
            parts, names = [], {}
            for index, (ntype, desc) in enumerate(self.descs):
                lengths = desc.possible_length
                if lengths and length not in lengths:
                    continue
                # The metadata's patterns have no groups or backreferences of their own (a
                # test checks), so each alternative's group says which description matched.
                parts.append(f"(?P<t{index}>{desc.national_number_pattern})")
                names[f"t{index}"] = ntype
            fullmatch = re.compile("|".join(parts)).fullmatch if parts else None
            found = self.by_length[length] = (fullmatch, names)
        return found


_TYPE_TABLES: dict[int, _TypeTable] = {}


def _entry(desc: Any) -> _TypeEntry:
    if desc is None or not desc.national_number_pattern:
        return None  # never matches (as _match_national_number)
    return frozenset(desc.possible_length), re.compile(desc.national_number_pattern).fullmatch


def _matches(nsn: str, entry: _TypeEntry) -> bool:
    if entry is None:
        return False
    lengths, fullmatch = entry
    if lengths and len(nsn) not in lengths:
        return False
    return fullmatch(nsn) is not None


def _type_table(metadata: Any) -> _TypeTable:
    table = _TYPE_TABLES.get(id(metadata))
    if table is None or table.metadata is not metadata:
        table = _TYPE_TABLES[id(metadata)] = _TypeTable(metadata)  # metadata lives for the process
    return table


def number_type(nsn: str, metadata: Any) -> int:
    """phonenumberutil's `_number_type_helper` with its patterns compiled once (same result).

    The library looks each pattern up in its cache and matches it twice (match, then
    fullmatch) for each of up to eleven descriptions; here one alternation per length holds
    the descriptions in the library's order, so the first that matches is the library's
    answer. Tests compare the two.
    """
    table = _type_table(metadata)
    if not _matches(nsn, table.general):
        return PhoneNumberType.UNKNOWN
    fullmatch, names = table.alternation(len(nsn))
    found = fullmatch(nsn) if fullmatch is not None else None
    if found is None:
        return PhoneNumberType.UNKNOWN
    ntype = names[found.lastgroup or ""]
    if ntype == _FIXED:
        if table.same or _matches(nsn, table.mobile):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return PhoneNumberType.FIXED_LINE
    return ntype


def parse_plus_digits(digits: str) -> phonenumbers.PhoneNumber | None:
    """`phonenumbers.parse("+" + digits)` for plain ASCII digits, or None to use the library.

    Same result where it answers: the country code is the first 1–3 digits that are one (codes
    are prefix-free, as in `_extract_country_code`); a national number that starts with 0 or
    that the region's national-prefix rule would rewrite goes to the library, as do errors.
    """
    if not (7 <= len(digits) <= 17 and digits.isascii() and digits.isdigit()) or digits[0] == "0":
        return None
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in phonenumberutil.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    nsn = digits[size:]
    if len(nsn) < 2 or nsn[0] == "0":
        return None
    main = _main_metadata(country_code)
    if main is None:
        return None
    metadata, prefix_match = main
    # The library strips nothing unless the national-prefix pattern matches at the start.
    if prefix_match is not None and prefix_match(nsn):
        _carrier, stripped, _ = phonenumberutil._maybe_strip_national_prefix_carrier_code(
            nsn, metadata
        )
        if stripped != nsn:
            return None
    return phonenumbers.PhoneNumber(country_code=country_code, national_number=int(nsn))


def _main_metadata(country_code: int) -> tuple[Any, Any] | None:
    """(metadata of the code's main region, its national-prefix pattern's `match` or None)."""
    found = _MAIN_METADATA.get(country_code)
    if found is None:
        regions = phonenumberutil.COUNTRY_CODE_TO_REGION_CODE.get(country_code) or ("ZZ",)
        metadata = _metadata(country_code, regions[0])  # as region_code_for_country_code
        if metadata is None:
            return None
        prefix = metadata.national_prefix_for_parsing
        found = (metadata, re.compile(prefix).match if prefix else None)
        _MAIN_METADATA[country_code] = found
    return found


_MAIN_METADATA: dict[int, tuple[Any, Any]] = {}


_NATIONAL_KEEP = (VR.TOO_SHORT, VR.IS_POSSIBLE_LOCAL_ONLY, VR.INVALID_LENGTH)


def parse_national_digits(digits: str, region: str) -> phonenumbers.PhoneNumber | None:
    """`phonenumbers.parse(digits, region)` for plain ASCII digits, or None to use the library.

    Same result where it answers: the steps of the library's parse for a number without `+`
    (national prefix and carrier code stripped unless what is left has an impossible length).
    Digits that start with the region's international prefix or its country code, keep a
    leading zero (Italy), or are too short or long go to the library, as do errors.
    """
    if not (3 <= len(digits) <= 17 and digits.isascii() and digits.isdigit()):
        return None
    metadata = _region_metadata(region)
    if metadata is None:
        return None
    if metadata.international_prefix is not None and re_compile(
        metadata.international_prefix
    ).match(digits):
        return None
    if digits.startswith(str(metadata.country_code)):
        return None  # the library may read it as the country code without +
    nsn = digits
    if metadata.national_prefix_for_parsing is not None:
        _carrier, stripped, _ = phonenumberutil._maybe_strip_national_prefix_carrier_code(
            digits, metadata
        )
        if phonenumberutil._test_number_length(stripped, metadata) not in _NATIONAL_KEEP:
            nsn = stripped
    if not 2 <= len(nsn) <= 17 or nsn[0] == "0":
        return None
    return phonenumbers.PhoneNumber(country_code=metadata.country_code, national_number=int(nsn))


def _region_metadata(region: str) -> Any:
    """`PhoneMetadata.metadata_for_region`, remembered (the library takes a lock each time)."""
    found = _REGION_METADATA.get(region)
    if found is None:
        found = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
        if found is not None:
            _REGION_METADATA[region] = found
    return found


_REGION_METADATA: dict[str, Any] = {}


_NON_DIGITS = re.compile(r"\D+")


class SequenceKeyer:
    """Cheap digits-only approximation of E.164 as an int, for the sequential-numbers guard.

    It costs about a microsecond (a full parse costs ~40), so the validation pass can key every
    row; it understands `+`, `00`, `(0)` and the default region's trunk prefix, which is what
    generated lists use. It is a heuristic: a number it cannot key is simply not counted.
    """

    def __init__(self, default_region: str | None = None) -> None:
        self.country_code = ""
        self.trunk_prefix = ""
        if default_region:
            self.country_code = str(phonenumbers.country_code_for_region(default_region.upper()))
            metadata = phonenumbers.PhoneMetadata.metadata_for_region(default_region.upper())
            self.trunk_prefix = (metadata.national_prefix or "") if metadata else ""

    def key(self, raw: str) -> int | None:
        """The number as an int of its international digits, or None when it cannot tell."""
        raw = raw.strip()
        if not raw:
            return None
        digits = _NON_DIGITS.sub("", raw.replace("(0)", ""))
        if len(digits) < 5:
            return None
        if raw.startswith("+"):
            pass
        elif digits.startswith("00"):
            digits = digits[2:]
        elif self.country_code:
            if self.trunk_prefix and digits.startswith(self.trunk_prefix):
                digits = digits[len(self.trunk_prefix) :]
            digits = self.country_code + digits
        return int(digits) if 5 <= len(digits) <= 18 else None


def candidate_zones(e164: str) -> tuple[str, ...]:
    """Every timezone an E.164 number can be in (libphonenumber), () when it cannot tell.

    Geographic numbers give their area code's zones; others (most mobiles) their country's, so
    quiet hours for a number without a known zone can be made to hold in all of them.
    """
    try:
        number = phonenumbers.parse(e164)
    except NumberParseException:
        return ()
    _region, ntype = region_and_type(number)
    if phonenumbers.is_number_type_geographical(ntype, _code(number)):
        zones = pn_timezone.time_zones_for_geographical_number(number)
    else:
        zones = pn_timezone.time_zones_for_number(number)
    return tuple(z for z in zones if z != _UNKNOWN_ZONE)


def is_geographic(e164: str) -> bool:
    """Whether a number belongs to an area (its zones are the area's), not the whole country."""
    try:
        number = phonenumbers.parse(e164)
    except NumberParseException:
        return False
    _region, ntype = region_and_type(number)
    return bool(phonenumbers.is_number_type_geographical(ntype, _code(number)))


def international_number(raw: str) -> str:
    """`raw` in E.164, from `+…`, `00…` or Infobip's digits without `+`; PhoneError if not.

    For one-off destinations (test sends, replies), which may be test ranges that are not in
    use: it checks the number is possible (length, country code), not that it is assigned.
    """
    compact = _FORMATTING.sub("", raw.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    elif compact.isdigit():
        compact = "+" + compact
    try:
        number = phonenumbers.parse(compact, None)
    except NumberParseException as exc:
        code, text = _PARSE_ERRORS.get(exc.error_type, ("NOT_A_NUMBER", "not a phone number"))
        raise PhoneError(f"{code}: {text}") from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != VR.IS_POSSIBLE:
        code, text = _POSSIBLE_ERRORS.get(possible, ("INVALID_NUMBER", "not a possible number"))
        raise PhoneError(f"{code}: {text}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
