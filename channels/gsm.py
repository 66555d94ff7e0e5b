"""SMS encoding and part counting: GSM-7 or UCS-2, and honest parts (channels/sms.py uses it).

Pure functions, no models and no database: the campaign engine calls them for previews and for
every recipient at fan-out, so the hot path (`sms_segments`) avoids per-call regexes and
per-character Python loops whenever the text allows it.

Encoding: an SMS goes as GSM-7 when every character is in the GSM 03.38 default alphabet or its
extension table, otherwise as UCS-2 (in practice UTF-16: characters outside the BMP, such as
emoji, take a surrogate pair). National language shift tables (Turkish, Spanish, Portuguese…)
are not used: Infobip can send those with a National Language Identifier or transliterate text
(`languageCode` / `transliteration` on the send and `/sms/1/preview` APIs), which would fit more
per part, but Herald does not ask for either by default, so ş, ğ, ı, ã, õ, ç, á force UCS-2 here.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- GSM 03.38 (3GPP TS 23.038 §6.2.1) --------------------------------------------------------
# Source: 3GPP TS 23.038 "GSM 7 bit default alphabet" and its extension table, as mapped to
# Unicode by unicode.org's ETSI/GSM0338.TXT — except 0x09, whose glyph in the standard is capital
# Ç (GSM0338.TXT maps it to small ç for display): so Ç is GSM-7 and ç forces UCS-2. The string is
# indexed by septet value 0x00–0x7F; 0x1B is the escape to the extension table, not a character.
GSM7_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00–0x0F
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # 0x10–0x1F
    " !\"#¤%&'()*+,-./"  # 0x20–0x2F
    "0123456789:;<=>?"  # 0x30–0x3F
    "¡ABCDEFGHIJKLMNO"  # 0x40–0x4F
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50–0x5F
    "¿abcdefghijklmno"  # 0x60–0x6F
    "pqrstuvwxyzäöñüà"  # 0x70–0x7F
)
GSM7_ESCAPE = 0x1B
# Extension table: each of these is sent as ESC + septet, so it costs two septets.
GSM7_EXTENSION_TABLE = {
    0x0A: "\f",  # FORM FEED (page break)
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
GSM7_BASIC = frozenset(GSM7_BASIC_TABLE) - {chr(GSM7_ESCAPE)}
GSM7_EXTENSION = frozenset(GSM7_EXTENSION_TABLE.values())
GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION

GSM7, UCS2 = "GSM-7", "UCS-2"
# Units per part: a single message, and each part of a concatenated one (the user data header
# takes 6 octets: 7 septets under GSM-7, 3 UTF-16 units under UCS-2).
SINGLE_PART = {GSM7: 160, UCS2: 70}
MULTI_PART = {GSM7: 153, UCS2: 67}
_BMP_MAX = "\uffff"


@dataclass(frozen=True, slots=True)
class SmsEncoding:
    """How an SMS text is encoded and split: lengths are in the encoding's units."""

    encoding: str  # "GSM-7" or "UCS-2"
    length: int  # GSM-7 septets (extension characters count 2) or UTF-16 code units
    parts: int  # 0 for the empty text
    per_part: int  # 160/70 for a single part, 153/67 per part once concatenated
    remaining: int  # units still free in the last part
    ucs2_chars: tuple[str, ...] = ()  # distinct characters forcing UCS-2, first appearance first

    @property
    def is_unicode(self) -> bool:
        return self.encoding == UCS2


def sms_segments(text: str) -> SmsEncoding:
    """Encoding, length and honest part count of an SMS text (splits never cut a character)."""
    if GSM7_ALL.issuperset(text):
        encoding, double = GSM7, GSM7_EXTENSION
        extra = 0 if GSM7_EXTENSION.isdisjoint(text) else sum(map(text.count, GSM7_EXTENSION))
        ucs2_chars: tuple[str, ...] = ()
    else:
        encoding, double = UCS2, None
        # Characters outside the BMP are a surrogate pair: two UTF-16 units.
        extra = len(text.encode("utf-16-le")) // 2 - len(text) if max(text) > _BMP_MAX else 0
        ucs2_chars = tuple(c for c in dict.fromkeys(text) if c not in GSM7_ALL)
    length = len(text) + extra
    single = SINGLE_PART[encoding]
    if length <= single:
        parts = 1 if length else 0
        return SmsEncoding(encoding, length, parts, single, single - length, ucs2_chars)
    per_part = MULTI_PART[encoding]
    if not extra:  # every character costs one unit: nothing can straddle a boundary
        parts = -(-length // per_part)
        used = length - (parts - 1) * per_part
    else:
        parts, used = _walk(text, per_part, double)
    return SmsEncoding(encoding, length, parts, per_part, per_part - used, ucs2_chars)


def _walk(text: str, per_part: int, double: frozenset[str] | None) -> tuple[int, int]:
    """Split like a handset does: a two-unit character that doesn't fit opens the next part."""
    parts, used = 1, 0
    for char in text:
        cost = 2 if (char in double if double is not None else char > _BMP_MAX) else 1
        if used + cost > per_part:
            parts, used = parts + 1, cost
        else:
            used += cost
    return parts, used
