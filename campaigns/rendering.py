"""Message rendering: placeholders, SMS encoding and part counting, length caps.

Pure functions, no models and no database: the campaign engine calls them for previews and for
every recipient at fan-out, so the hot paths (`Template.render`, `sms_segments`) avoid per-call
regexes and per-character Python loops whenever the text allows it.

Encoding: an SMS goes as GSM-7 when every character is in the GSM 03.38 default alphabet or its
extension table, otherwise as UCS-2 (in practice UTF-16: characters outside the BMP, such as
emoji, take a surrogate pair). National language shift tables (Turkish, Spanish, Portuguese…)
are not used: Infobip can send those with a National Language Identifier or transliterate text
(`languageCode` / `transliteration` on the send and `/sms/1/preview` APIs), which would fit more
per part, but Herald does not ask for either by default, so ş, ğ, ı, ã, õ, ç, á force UCS-2 here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.conf import settings

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


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def sms_cap_check(text: str, *, max_chars: int | None = None) -> str | None:
    """Error message when an SMS text exceeds the cap (HERALD_SMS_MAX_CHARS), else None."""
    cap = settings.HERALD_SMS_MAX_CHARS if max_chars is None else max_chars
    seg = sms_segments(text)
    if seg.length <= cap:
        return None
    return (
        f"SMS text is {_plural(seg.length, 'character')} "
        f"({_plural(seg.parts, 'part')}, {seg.encoding}); the limit is {cap:,}"
    )


def whatsapp_text_cap_check(text: str, *, max_chars: int | None = None) -> str | None:
    """Error message when a WhatsApp text exceeds the cap (HERALD_WHATSAPP_MAX_CHARS), else None."""
    cap = settings.HERALD_WHATSAPP_MAX_CHARS if max_chars is None else max_chars
    # Counted in UTF-16 units, as Infobip's (Java) validation does: an emoji counts 2. This can
    # only over-count against a code-point limit, so Herald never sends what Infobip refuses.
    length = len(text.encode("utf-16-le")) // 2
    if length <= cap:
        return None
    return f"WhatsApp text is {_plural(length, 'character')}; the limit is {cap:,}"


# --- Placeholders -----------------------------------------------------------------------------
# `{{name}}` or `{{name|fallback}}`, whitespace tolerated around the name, the bar and the
# fallback. A name starts with a letter or underscore, then letters, digits, `_`, `.` or `-`.
# A fallback may be empty (`{{x|}}` makes x optional) but cannot contain braces. The renderer
# leaves anything else in braces as it is; campaigns refuse double braces that are not a
# placeholder (`{{ }}`, `{{1st}}`, an unclosed `{{name`: placeholder_syntax_problem), while single
# braces (`{single}`) are ordinary text.
# Names are case-sensitive.
PLACEHOLDER_RE = re.compile(r"\{\{\s*([^\W\d][\w.\-]*)\s*(?:\|([^{}]*))?\}\}")
CONTACT_FIELDS = ("first_name", "last_name", "phone", "language", "country", "timezone")
# `{{opt_out_url}}`: the recipient's personal opt-out link (contacts/optout.py).
OPT_OUT_URL = "opt_out_url"


_BRACES_RE = re.compile(r"\{\{|\}\}")


def placeholder_syntax_problem(text: str) -> str | None:
    """Why the text's double braces are not all placeholders (None when they are).

    The renderer sends an unclosed `{{first_name` as it is written, so a typo would reach every
    recipient as code: campaigns refuse it (issue 26 #9). Single braces are ordinary text.
    """
    # Blank out every well-formed placeholder; any `{{` or `}}` left over is a broken one.
    bare = PLACEHOLDER_RE.sub(lambda m: " " * len(m[0]), text)
    match = _BRACES_RE.search(bare)
    if match is None:
        return None
    if match[0] == "}}":
        before = text[max(0, match.start() - 20) : match.end()].lstrip()
        return f"“…{before}” closes a placeholder with }}}} that was never opened with {{{{"
    fragment = text[match.start() : match.start() + 24].split("\n")[0]
    if (close := fragment.find("}}")) >= 0:
        fragment = fragment[: close + 2]
    name = re.match(r"\{\{\s*([^\W\d][\w.\-]*)", fragment)
    if name and "}}" not in fragment:
        return (
            f"“{fragment}” is not closed: write {{{{{name[1]}}}}} (a placeholder needs "
            "both {{ and }})"
        )
    return (
        f"“{fragment}” is not a placeholder: write {{{{name}}}} with a name that starts with a "
        "letter, e.g. {{first_name}}"
    )


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered text; when `missing` is not empty it must not be sent."""

    text: str  # missing placeholders are left in literally, for previews
    missing: list[str] = field(default_factory=list)

    @property
    def skip_reason(self) -> str | None:
        if not self.missing:
            return None
        return "missing value for " + ", ".join(f"{{{{{name}}}}}" for name in self.missing)


@dataclass(frozen=True, slots=True)
class _Slot:
    name: str
    fallback: str | None  # None: no fallback, the value is required
    source: str  # the placeholder as written, kept when the value is missing


class Template:
    """A text parsed once into literal pieces and placeholder slots, rendered many times."""

    __slots__ = ("_pieces", "names", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        pieces: list[str | _Slot] = []
        names: dict[str, None] = {}
        position = 0
        for match in PLACEHOLDER_RE.finditer(source):
            if match.start() > position:
                pieces.append(source[position : match.start()])
            fallback = match.group(2)
            pieces.append(
                _Slot(match.group(1), None if fallback is None else fallback.strip(), match[0])
            )
            names[match.group(1)] = None
            position = match.end()
        if position < len(source):
            pieces.append(source[position:])
        self._pieces = tuple(pieces)
        self.names = list(names)

    def render(self, values: Mapping[str, str | None]) -> Rendered:
        """Fill the placeholders from `values`; empty or absent values use the fallback."""
        if not self.names:
            return Rendered(self.source, [])
        out: list[str] = []
        missing: list[str] = []
        for piece in self._pieces:
            if type(piece) is str:
                out.append(piece)
                continue
            value = values.get(piece.name)
            if value and not value.isspace():
                out.append(value)
            elif piece.fallback is not None:
                out.append(piece.fallback)
            else:
                out.append(piece.source)
                if piece.name not in missing:
                    missing.append(piece.name)
        return Rendered("".join(out), missing)


@lru_cache(maxsize=256)
def compile_template(text: str) -> Template:
    """Parse a message text once (cached): use `.render(values)` per recipient."""
    return Template(text)


def placeholder_names(text: str) -> list[str]:
    """Names used by the text's placeholders, distinct, in order of first use."""
    return list(compile_template(text).names)


def render_text(text: str, values: Mapping[str, str | None]) -> Rendered:
    """Fill a text's placeholders (see `Template.render`)."""
    return compile_template(text).render(values)


def _as_text(value: Any) -> str | None:
    # Scalars become text; None, lists and dicts have nothing sensible to put in a message.
    if value is None or isinstance(value, list | dict | tuple | set):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def contact_values(contact: Any, names: Iterable[str] | None = None) -> dict[str, str]:
    """Placeholder values of a contact: its attributes, overridden by non-empty model fields."""
    # With `names`, only those: the freeze renders a million recipients with the few a text uses.
    attributes = getattr(contact, "attributes", None) or {}
    if names is not None:
        return _named_values(contact, attributes, names)
    values: dict[str, str] = {}
    for key, raw in attributes.items():
        text = _as_text(raw)
        if text is not None:
            values[str(key)] = text
    # Fields win: a CSV column that happens to be called `country` must not override the
    # country derived from the number; an empty field still lets the attribute through.
    for name in CONTACT_FIELDS:
        text = _as_text(getattr(contact, name, None))
        if text is not None:
            values[name] = text
    if getattr(contact, "id", None) is not None:
        values[OPT_OUT_URL] = _opt_out_url(contact)
    return values


def _opt_out_url(contact: Any) -> str:
    from contacts.optout import opt_out_url

    # A contact not saved yet (a test send to a bare number) has no link: the placeholder
    # then renders as a missing value, which refuses the send rather than sending a dead link.
    return opt_out_url(contact.id) if getattr(contact, "id", None) is not None else ""


def _named_values(contact: Any, attributes: Mapping, names: Iterable[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in names:
        if name == OPT_OUT_URL:
            values[name] = _opt_out_url(contact)
            continue
        text = _as_text(getattr(contact, name, None)) if name in CONTACT_FIELDS else None
        if text is None:
            text = _as_text(attributes.get(name))
        if text is not None:
            values[name] = text
    return values
