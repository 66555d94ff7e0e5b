"""Reading Infobip's template objects: placeholders counted and ordered, and what Herald can send.

Pure functions on the raw dicts of `GET /whatsapp/2/senders/{sender}/templates`, so they are
tested without a database and reused by the sync, the mapping and the preview.
"""

import re
from dataclasses import dataclass, field
from typing import Any

# `{{1}}`, `{{ 2 }}` and Meta's named form `{{first_name}}`.
PLACEHOLDER_RE = re.compile(r"\{\{\s*([^{}\s][^{}]*?)\s*\}\}")

TEXT_HEADER = "TEXT"
MEDIA_HEADERS = {"IMAGE", "VIDEO", "DOCUMENT", "GIF"}
# Buttons that need nothing per message (static URL has no placeholder) or that Herald fills
# itself (a quick reply's payload is its label, so inbound BUTTON replies say what was tapped).
STATIC_BUTTONS = {"PHONE_NUMBER"}
VALUE_BUTTONS = {"URL", "COPY_CODE"}
QUICK_REPLY = "QUICK_REPLY"
COPY_CODE_MAX = 15
QUICK_REPLY_PAYLOAD_MAX = 128


class MalformedTemplate(ValueError):
    """The template object lacks what is needed to store it at all (name or language)."""


@dataclass
class ParsedTemplate:
    """The model fields derived from one raw template object."""

    name: str
    language: str
    infobip_id: str = ""
    status: str = ""
    category: str = ""
    quality: str = ""
    structure: dict[str, Any] = field(default_factory=dict[str, Any])
    body_text: str = ""
    header_format: str = ""
    placeholders: dict[str, Any] = field(default_factory=dict[str, Any])
    supported: bool = True
    unsupported_reason: str = ""
    placeholder_warning: str = ""

    def as_fields(self) -> dict[str, Any]:
        return dict(self.__dict__)


def placeholder_tokens(text: str) -> list[str]:
    """Distinct placeholder names of `text` in the order Infobip expects their values."""
    seen: list[str] = []
    for token in PLACEHOLDER_RE.findall(text or ""):
        if token not in seen:
            seen.append(token)
    if seen and all(t.isdigit() for t in seen):
        return sorted(seen, key=int)
    return seen


def tokens_warning(where: str, tokens: list[str]) -> str:
    """Why `tokens` are not Meta's `{{1}}..{{N}}` (empty when they are)."""
    if not tokens:
        return ""
    if not all(t.isdigit() for t in tokens):
        names = ", ".join("{{" + t + "}}" for t in tokens)
        return f"{where} uses named placeholders ({names}); values are sent in that order"
    expected = [str(i) for i in range(1, len(tokens) + 1)]
    if tokens != expected:
        names = ", ".join("{{" + t + "}}" for t in tokens)
        return f"{where} placeholders are not numbered 1..{len(tokens)} ({names})"
    return ""


def parse_template(raw: Any) -> ParsedTemplate:
    """Model fields for one raw template; raises MalformedTemplate when it cannot be keyed."""
    if not isinstance(raw, dict):
        raise MalformedTemplate(f"template is a {type(raw).__name__}, not an object")
    name, language = raw.get("name"), raw.get("language")
    if not isinstance(name, str) or not name.strip():
        raise MalformedTemplate("template has no name")
    if not isinstance(language, str) or not language.strip():
        raise MalformedTemplate(f"template '{name}' has no language")
    parsed = ParsedTemplate(
        name=name.strip(),
        language=language.strip(),
        infobip_id=str(raw.get("id") or ""),
        status=_text(raw.get("status")).upper(),
        category=_text(raw.get("category")).upper(),
        quality=_text(raw.get("quality")).upper(),
    )
    structure = raw.get("structure")
    if not isinstance(structure, dict):
        parsed.supported, parsed.unsupported_reason = False, "the template has no structure"
        return parsed
    parsed.structure = structure
    reason = _read_structure(parsed, structure, raw)
    if reason:
        parsed.supported, parsed.unsupported_reason = False, reason
    return parsed


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _read_structure(parsed: ParsedTemplate, structure: dict[str, Any], raw: dict[str, Any]) -> str:
    """Fill body/header/buttons of `parsed`; return why Herald cannot send it, or ''."""
    warnings: list[str] = []
    body = structure.get("body")
    body_text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(body_text, str):
        return "the template has no body text"
    parsed.body_text = body_text
    body_tokens = placeholder_tokens(body_text)
    warnings.append(tokens_warning("body", body_tokens))

    header_count, header_tokens = 0, []
    header = structure.get("header")
    if header is not None:
        if not isinstance(header, dict):
            return "the header is not an object"
        fmt = _text(header.get("format")).upper()
        parsed.header_format = fmt
        if fmt == TEXT_HEADER:
            header_tokens = placeholder_tokens(_text(header.get("text")))
            if len(header_tokens) > 1:
                return f"the text header has {len(header_tokens)} placeholders (Infobip sends 1)"
            header_count = len(header_tokens)
        elif fmt in MEDIA_HEADERS:
            header_count = 1  # the media URL sent with each message
        else:
            return f"header format {fmt or '(none)'} is not supported"

    buttons, reason = _read_buttons(structure.get("buttons"))
    if reason:
        return reason

    parsed.placeholders = {
        "header": header_count,
        "body": len(body_tokens),
        "buttons": buttons,
        "tokens": {"header": header_tokens, "body": body_tokens},
    }
    parsed.placeholder_warning = "; ".join(w for w in warnings if w)

    if _text(structure.get("type")).upper() == "UNSUPPORTED":
        return "Infobip reports the template structure as UNSUPPORTED"
    if structure.get("carousel"):
        return "carousel templates are not supported"
    offer = structure.get("limitedTimeOffer")
    if isinstance(offer, dict) and offer.get("hasExpiration"):
        return "limited-time offers with an expiration time are not supported"
    if _text(raw.get("subCategory")).upper() == "ORDER_STATUS":
        return "ORDER_STATUS templates are not supported"
    return ""


def _read_buttons(buttons: Any) -> tuple[list[dict[str, Any]], str]:
    """Buttons that go into templateData (in template order), or why they cannot be sent."""
    if buttons is None:
        return [], ""
    if not isinstance(buttons, list):
        return [], "the buttons are not a list"
    out: list[dict[str, Any]] = []
    for index, button in enumerate(buttons):
        if not isinstance(button, dict):
            return [], f"button {index + 1} is not an object"
        kind = _text(button.get("type")).upper()
        if kind in STATIC_BUTTONS:
            continue
        if kind == QUICK_REPLY:
            out.append({"index": index, "type": kind, "placeholders": 0})
        elif kind == "URL":
            tokens = placeholder_tokens(_text(button.get("url")))
            if len(tokens) > 1:
                return (
                    [],
                    f"URL button {index + 1} has {len(tokens)} placeholders (Infobip sends 1)",
                )
            if tokens:
                out.append({"index": index, "type": kind, "placeholders": 1})
        elif kind == "COPY_CODE":
            out.append({"index": index, "type": kind, "placeholders": 1})
        else:
            return [], f"button {index + 1} of type {kind or '(none)'} is not supported"
    return out, ""
