"""Message rendering: placeholders and contact values, for every channel type.

Pure functions, no models and no database: the campaign engine calls them for previews and for
every recipient at fan-out, so the hot path (`Template.render`) avoids per-call regexes and
per-character Python loops whenever the text allows it. SMS encoding and parts are the SMS
channel type's (channels/gsm.py), length caps each type's (`ChannelType.cap_check`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# SMS encoding and parts live with the SMS channel type (channels/gsm.py); the names stay
# importable from here for the callers that read them with the rest of rendering.
from channels.gsm import (
    GSM7,
    GSM7_ALL,
    GSM7_BASIC,
    GSM7_EXTENSION,
    UCS2,
    SmsEncoding,
    sms_segments,
)

__all__ = [
    "GSM7",
    "GSM7_ALL",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "UCS2",
    "SmsEncoding",
    "sms_segments",
]


def sms_cap_check(text: str, *, max_chars: int | None = None) -> str | None:
    """Error message when an SMS text exceeds the cap (HERALD_SMS_MAX_CHARS), else None."""
    from channels.registry import channel_type

    return channel_type("sms").cap_check(text, max_chars=max_chars)


def whatsapp_text_cap_check(text: str, *, max_chars: int | None = None) -> str | None:
    """Error message when a WhatsApp text exceeds the cap (HERALD_WHATSAPP_MAX_CHARS), else None."""
    from channels.registry import channel_type

    return channel_type("whatsapp_text").cap_check(text, max_chars=max_chars)


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
            if isinstance(piece, str):
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


def _named_values(
    contact: Any, attributes: Mapping[str, object], names: Iterable[str]
) -> dict[str, str]:
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
