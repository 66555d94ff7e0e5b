"""SMS encoding detection and part counting against a table of tricky texts."""

import math
import unicodedata

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from campaigns.rendering import sms_cap_check, whatsapp_text_cap_check
from channels.gsm import GSM7_BASIC, GSM7_BASIC_TABLE, GSM7_EXTENSION_TABLE, sms_segments

GSM, UCS = "GSM-7", "UCS-2"

# (id, text, encoding, length, parts, per_part, remaining, ucs2_chars)
TRICKY = [
    ("empty", "", GSM, 0, 0, 160, 160, ()),
    ("160 gsm", "a" * 160, GSM, 160, 1, 160, 0, ()),
    ("161 gsm", "a" * 161, GSM, 161, 2, 153, 145, ()),
    ("306 gsm", "a" * 306, GSM, 306, 2, 153, 0, ()),
    ("307 gsm", "a" * 307, GSM, 307, 3, 153, 152, ()),
    ("70 ucs2", "ş" * 70, UCS, 70, 1, 70, 0, ("ş",)),
    ("71 ucs2", "ş" * 71, UCS, 71, 2, 67, 63, ("ş",)),
    ("134 ucs2", "ş" * 134, UCS, 134, 2, 67, 0, ("ş",)),
    ("135 ucs2", "ş" * 135, UCS, 135, 3, 67, 66, ("ş",)),
    ("euro counts 2", "€", GSM, 2, 1, 160, 158, ()),
    ("extension chars count 2", "[]{}~^|\\", GSM, 16, 1, 160, 144, ()),
    ("form feed counts 2", "\f", GSM, 2, 1, 160, 158, ()),
    ("extension chars count 1 under ucs2", "€[]{}~^|\\ş", UCS, 10, 1, 70, 60, ("ş",)),
    ("158 + euro is one part", "a" * 158 + "€", GSM, 160, 1, 160, 0, ()),
    ("159 + euro is two parts", "a" * 159 + "€", GSM, 161, 2, 153, 145, ()),
    # The escape and its character never straddle parts: 152 + € + 152 needs a third part…
    ("euro at part boundary", "a" * 152 + "€" + "a" * 152, GSM, 306, 3, 153, 152, ()),
    # …while the same length with the € wholly inside part one fits in two.
    ("euro inside part one", "a" * 151 + "€" + "a" * 153, GSM, 306, 2, 153, 0, ()),
    ("emoji is 2 units", "😀", UCS, 2, 1, 70, 68, ("😀",)),
    ("68 + emoji is one part", "ş" * 68 + "😀", UCS, 70, 1, 70, 0, ("ş", "😀")),
    ("69 + emoji is two parts", "a" * 69 + "😀", UCS, 71, 2, 67, 63, ("😀",)),
    # A surrogate pair is never split either: 66 + 😀 + 66 takes three parts, not two.
    ("emoji at part boundary", "ş" * 66 + "😀" + "ş" * 66, UCS, 134, 3, 67, 66, ("ş", "😀")),
    ("emoji inside part one", "ş" * 65 + "😀" + "ş" * 67, UCS, 134, 2, 67, 0, ("ş", "😀")),
    ("euro next to emoji", "€😀", UCS, 3, 1, 70, 67, ("😀",)),
    ("turkish", "Şişli'de güzel bir gün", UCS, 22, 1, 70, 48, ("Ş", "ş")),
    ("turkish dotless i", "Iğdır ılık", UCS, 10, 1, 70, 60, ("ğ", "ı")),
    ("portuguese", "Promoção de verão", UCS, 17, 1, 70, 53, ("ç", "ã")),
    ("portuguese accents", "Olá, você", UCS, 9, 1, 70, 61, ("á", "ê")),
    ("capital C cedilla is gsm", "Ç", GSM, 1, 1, 160, 159, ()),
    ("small c cedilla is not", "ç", UCS, 1, 1, 70, 69, ("ç",)),
    ("newlines", "Line1\nLine2\r\n", GSM, 13, 1, 160, 147, ()),
    ("greek capitals in gsm", "ΔΦΓΛΩΠΨΣΘΞ", GSM, 10, 1, 160, 150, ()),
    # Greek Α, Η, Ν look Latin but are not in the table (only Θ is).
    ("greek lookalikes", "ΑΘΗΝΑ", UCS, 5, 1, 70, 65, ("Α", "Η", "Ν")),
    ("greek small letters", "αβ", UCS, 2, 1, 70, 68, ("α", "β")),
    ("gsm symbols", "@£$¥_¤§¿¡", GSM, 9, 1, 160, 151, ()),
    ("backtick", "say `hi`", UCS, 8, 1, 70, 62, ("`",)),
    ("curly apostrophe", "It’s", UCS, 4, 1, 70, 66, ("’",)),
    ("tab", "a\tb", UCS, 3, 1, 70, 67, ("\t",)),
    ("non-breaking space", "10\u00a0€", UCS, 4, 1, 70, 66, ("\u00a0",)),
]


@pytest.mark.parametrize(
    ("text", "encoding", "length", "parts", "per_part", "remaining", "ucs2_chars"),
    [pytest.param(*row[1:], id=row[0]) for row in TRICKY],
)
def test_tricky_texts(text, encoding, length, parts, per_part, remaining, ucs2_chars) -> None:
    seg = sms_segments(text)
    assert (seg.encoding, seg.length, seg.parts, seg.per_part, seg.remaining, seg.ucs2_chars) == (
        encoding,
        length,
        parts,
        per_part,
        remaining,
        ucs2_chars,
    )
    assert seg.is_unicode is (encoding == UCS)


# Septets of the default alphabet whose character differs from ASCII at the same code point,
# with the Unicode names given in 3GPP TS 23.038 (0x09 is the capital Ç).
NON_ASCII_POSITIONS = {
    0x00: "COMMERCIAL AT", 0x01: "POUND SIGN", 0x02: "DOLLAR SIGN", 0x03: "YEN SIGN",
    0x04: "LATIN SMALL LETTER E WITH GRAVE", 0x05: "LATIN SMALL LETTER E WITH ACUTE",
    0x06: "LATIN SMALL LETTER U WITH GRAVE", 0x07: "LATIN SMALL LETTER I WITH GRAVE",
    0x08: "LATIN SMALL LETTER O WITH GRAVE", 0x09: "LATIN CAPITAL LETTER C WITH CEDILLA",
    0x0B: "LATIN CAPITAL LETTER O WITH STROKE", 0x0C: "LATIN SMALL LETTER O WITH STROKE",
    0x0E: "LATIN CAPITAL LETTER A WITH RING ABOVE", 0x0F: "LATIN SMALL LETTER A WITH RING ABOVE",
    0x10: "GREEK CAPITAL LETTER DELTA", 0x11: "LOW LINE", 0x12: "GREEK CAPITAL LETTER PHI",
    0x13: "GREEK CAPITAL LETTER GAMMA", 0x14: "GREEK CAPITAL LETTER LAMDA",
    0x15: "GREEK CAPITAL LETTER OMEGA", 0x16: "GREEK CAPITAL LETTER PI",
    0x17: "GREEK CAPITAL LETTER PSI", 0x18: "GREEK CAPITAL LETTER SIGMA",
    0x19: "GREEK CAPITAL LETTER THETA", 0x1A: "GREEK CAPITAL LETTER XI",
    0x1C: "LATIN CAPITAL LETTER AE", 0x1D: "LATIN SMALL LETTER AE",
    0x1E: "LATIN SMALL LETTER SHARP S", 0x1F: "LATIN CAPITAL LETTER E WITH ACUTE",
    0x24: "CURRENCY SIGN", 0x40: "INVERTED EXCLAMATION MARK",
    0x5B: "LATIN CAPITAL LETTER A WITH DIAERESIS", 0x5C: "LATIN CAPITAL LETTER O WITH DIAERESIS",
    0x5D: "LATIN CAPITAL LETTER N WITH TILDE", 0x5E: "LATIN CAPITAL LETTER U WITH DIAERESIS",
    0x5F: "SECTION SIGN", 0x60: "INVERTED QUESTION MARK",
    0x7B: "LATIN SMALL LETTER A WITH DIAERESIS", 0x7C: "LATIN SMALL LETTER O WITH DIAERESIS",
    0x7D: "LATIN SMALL LETTER N WITH TILDE", 0x7E: "LATIN SMALL LETTER U WITH DIAERESIS",
    0x7F: "LATIN SMALL LETTER A WITH GRAVE",
}  # fmt: skip
EXTENSION_NAMES = {
    0x0A: "FORM FEED (FF)", 0x14: "CIRCUMFLEX ACCENT", 0x28: "LEFT CURLY BRACKET",
    0x29: "RIGHT CURLY BRACKET", 0x2F: "REVERSE SOLIDUS", 0x3C: "LEFT SQUARE BRACKET",
    0x3D: "TILDE", 0x3E: "RIGHT SQUARE BRACKET", 0x40: "VERTICAL LINE", 0x65: "EURO SIGN",
}  # fmt: skip


def _name(char: str) -> str:
    return {"\f": "FORM FEED (FF)"}.get(char) or unicodedata.name(char)


def test_default_alphabet_matches_the_standard_table() -> None:
    assert len(GSM7_BASIC_TABLE) == 128
    for septet, char in enumerate(GSM7_BASIC_TABLE):
        if septet == 0x1B:
            assert char not in GSM7_BASIC  # the escape is not a character of its own
        elif septet in NON_ASCII_POSITIONS:
            assert _name(char) == NON_ASCII_POSITIONS[septet], hex(septet)
        else:
            assert char == chr(septet), hex(septet)
    assert {k: _name(v) for k, v in GSM7_EXTENSION_TABLE.items()} == EXTENSION_NAMES
    assert len(GSM7_BASIC) == 127


# A reference splitter working on the encoded units themselves: GSM-7 septets from the tables,
# UCS-2 from Python's UTF-16 encoder; a character's units are kept together.
_SEPTETS = {c: 1 for c in GSM7_BASIC} | {c: 2 for c in GSM7_EXTENSION_TABLE.values()}


def _reference_parts(text: str) -> tuple[int, int]:
    gsm = all(c in _SEPTETS for c in text)
    sizes = [_SEPTETS[c] if gsm else len(c.encode("utf-16-be")) // 2 for c in text]
    single, multi = (160, 153) if gsm else (70, 67)
    if sum(sizes) <= single:
        return (1 if text else 0), sum(sizes)
    chunks: list[list[int]] = [[]]
    for size in sizes:
        if sum(chunks[-1]) + size > multi:
            chunks.append([])
        chunks[-1].append(size)
    assert all(sum(chunk) <= multi for chunk in chunks)
    return len(chunks), sum(sizes)


_ALPHABET = st.sampled_from("aZ9 @£Ç\n€[]{}~^|\\\fşçã😀🇹🇷Ωα")
# Runs of one-unit characters push two-unit ones onto part boundaries.
_RUNS = st.lists(st.sampled_from(["a" * 50, "ş" * 33, "a", "ş", "€", "]", "😀"]), max_size=24)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text(_ALPHABET, max_size=420) | _RUNS.map("".join))
def test_part_count_matches_a_reference_split(text: str) -> None:
    seg = sms_segments(text)
    assert (seg.parts, seg.length) == _reference_parts(text)
    assert 0 <= seg.remaining <= seg.per_part
    if seg.parts > 1:
        assert seg.parts >= math.ceil(seg.length / seg.per_part)
        assert seg.remaining < seg.per_part


def test_sms_cap_reports_exact_length_parts_and_encoding() -> None:
    assert sms_cap_check("a" * 1600) is None
    assert sms_cap_check("a" * 1601) == (
        "SMS text is 1,601 characters (11 parts, GSM-7); the limit is 1,600"
    )
    assert sms_cap_check("ş" * 1601) == (
        "SMS text is 1,601 characters (24 parts, UCS-2); the limit is 1,600"
    )
    # 801 euro signs are 1,602 septets: refused although only 801 were typed.
    assert sms_cap_check("€" * 800) is None
    assert sms_cap_check("€" * 801) == (
        "SMS text is 1,602 characters (11 parts, GSM-7); the limit is 1,600"
    )


def test_sms_cap_comes_from_settings_unless_given(settings) -> None:
    settings.HERALD_SMS_MAX_CHARS = 10
    assert sms_cap_check("a" * 10) is None
    assert sms_cap_check("a" * 11) == "SMS text is 11 characters (1 part, GSM-7); the limit is 10"
    assert sms_cap_check("a" * 11, max_chars=11) is None
    assert sms_cap_check("😀" * 6, max_chars=11) == (
        "SMS text is 12 characters (1 part, UCS-2); the limit is 11"
    )


def test_whatsapp_cap_counts_utf16_units(settings) -> None:
    assert whatsapp_text_cap_check("a" * 4096) is None
    assert whatsapp_text_cap_check("a" * 4097) == (
        "WhatsApp text is 4,097 characters; the limit is 4,096"
    )
    assert whatsapp_text_cap_check("😀" * 2048) is None
    assert whatsapp_text_cap_check("😀" * 2049) == (
        "WhatsApp text is 4,098 characters; the limit is 4,096"
    )
    settings.HERALD_WHATSAPP_MAX_CHARS = 5
    assert whatsapp_text_cap_check("hello!") == "WhatsApp text is 6 characters; the limit is 5"
