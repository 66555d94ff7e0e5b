"""Placeholder mapping: which contact value fills each placeholder of a WhatsApp template.

A mapping is JSON stored on a campaign:

    {"header": [Slot], "body": [Slot, ...], "buttons": [{"index": 1, "slots": [Slot]}]}

`Slot = {"source": "field"|"attribute"|"literal"|"text", "value": str, "fallback": str|None}`:
`field` reads a contact field (FIELDS), `attribute` a key of the contact's attributes, `literal`
is sent as is, and `text` is a literal with `{{first_name}}`/`{{attribute}}` references filled
in. `header` is the text header's placeholder or the media header's URL; `buttons[].index` is the
position of a dynamic URL or copy-code button in the template. Everything here is pure: the
campaign engine calls `mapping_resolve` once per recipient with `contact_values(contact)`.
"""

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from whatsapp.structure import COPY_CODE_MAX, MEDIA_HEADERS, PLACEHOLDER_RE, QUICK_REPLY_PAYLOAD_MAX

FIELDS = ("first_name", "last_name", "phone", "language", "country", "timezone")
SOURCES = ("field", "attribute", "literal", "text")
MEDIA_URL_MAX = 2048
_HEADER_BAD = re.compile(r"[\n\r\t]| {5,}")


class TemplateLike(Protocol):
    name: str
    language: str
    supported: bool
    unsupported_reason: str
    header_format: str
    structure: dict[str, Any]

    @property
    def value_buttons(self) -> list[dict[str, Any]]: ...

    def tokens(self, where: str) -> list[str]: ...


@dataclass
class TemplateValues:
    """The per-recipient values of a template message, in the order Infobip expects them."""

    body: list[str]
    header: str | None = None
    buttons: list[dict[str, Any]] = field(default_factory=list)  # [{"index", "type", "parameter"}]
    header_type: str = "TEXT"

    def to_infobip_template_data(self) -> dict[str, Any]:
        """The `templateData` object of `POST /whatsapp/1/message/template`."""
        data: dict[str, Any] = {"body": {"placeholders": list(self.body)}}
        if self.header is not None:
            kind = self.header_type
            if kind == "TEXT":
                data["header"] = {"type": "TEXT", "placeholder": self.header}
            else:
                data["header"] = {"type": kind, "mediaUrl": self.header}
                if kind == "DOCUMENT":
                    data["header"]["filename"] = _filename(self.header)
        if self.buttons:
            data["buttons"] = [
                {"type": b["type"], "parameter": b["parameter"]} for b in self.buttons
            ]
        return data

    def to_message_fields(self) -> dict[str, Any]:
        """Keyword arguments for infobip.types.WhatsAppTemplateMessage."""
        data = self.to_infobip_template_data()
        return {
            "body_placeholders": data["body"]["placeholders"],
            "header": data.get("header"),
            "buttons": data.get("buttons"),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "body": list(self.body),
            "header": self.header,
            "header_type": self.header_type,
            "buttons": [dict(b) for b in self.buttons],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TemplateValues":
        return cls(
            body=list(data.get("body") or []),
            header=data.get("header"),
            buttons=[dict(b) for b in data.get("buttons") or []],
            header_type=data.get("header_type") or "TEXT",
        )


@dataclass
class Resolved:
    """Values for one recipient, or None with the reasons the recipient must be skipped."""

    values: TemplateValues | None
    missing: list[str]


def contact_values(contact: Any) -> dict[str, Any]:
    """The plain dict of a contact that `mapping_resolve` reads (fields plus `attributes`)."""
    values = {name: getattr(contact, name, None) for name in FIELDS}
    attributes = getattr(contact, "attributes", None)
    values["attributes"] = attributes if isinstance(attributes, dict) else {}
    return values


def slot_from_text(text: str, *, fallback: str | None = None) -> dict[str, Any]:
    """A slot for a value like `{{first_name}}`, `{{city}}`, `Hi {{first_name}}` or plain text."""
    match = PLACEHOLDER_RE.fullmatch(text.strip())
    if match:
        ref = match.group(1)
        return {
            "source": "field" if ref in FIELDS else "attribute",
            "value": ref,
            "fallback": fallback,
        }
    source = "text" if PLACEHOLDER_RE.search(text) else "literal"
    return {"source": source, "value": text, "fallback": fallback}


# --- the places a template takes values ------------------------------------------------------


@dataclass(frozen=True)
class Place:
    kind: str  # "body" | "header_text" | "header_media" | "URL" | "COPY_CODE"
    label: str  # how errors name it, e.g. "body placeholder {{2}}"


def template_places(template: TemplateLike) -> dict[str, Any]:
    """Where a template takes values: {"header": [...], "body": [...], "buttons": {i: ...}}."""
    header_tokens = template.tokens("header")
    header: list[Place] = []
    fmt = (template.header_format or "").upper()
    if fmt in MEDIA_HEADERS:
        header = [Place("header_media", f"header {fmt} URL")]
    elif header_tokens:
        header = [Place("header_text", f"header placeholder {{{{{header_tokens[0]}}}}}")]
    body = [Place("body", f"body placeholder {{{{{t}}}}}") for t in template.tokens("body")]
    buttons: dict[int, Place] = {}
    for button in template.value_buttons:
        if button.get("placeholders"):
            index = int(button["index"])
            text = _button(template, index).get("text") or ""
            what = "placeholder {{1}}" if button["type"] == "URL" else "code"
            label = f"button {index + 1} ({button['type']} '{text}') {what}"
            buttons[index] = Place(button["type"], label)
    return {"header": header, "body": body, "buttons": buttons}


def _button(template: TemplateLike, index: int) -> dict[str, Any]:
    buttons = (template.structure or {}).get("buttons") or []
    return buttons[index] if 0 <= index < len(buttons) and isinstance(buttons[index], dict) else {}


# --- validation at campaign save and launch --------------------------------------------------


def mapping_validate(*, template: TemplateLike, mapping: Any) -> list[str]:
    """Every way `mapping` does not fit `template` (empty when it fits), naming the placeholder."""
    if not template.supported:
        return [
            f"template '{template.name}' ({template.language}) is not supported by Herald: "
            f"{template.unsupported_reason}"
        ]
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        return ["the placeholder mapping must be an object with header, body and buttons"]
    places = template_places(template)
    errors: list[str] = []
    for part in ("header", "body"):
        slots = mapping.get(part) or []
        if not isinstance(slots, list):
            errors.append(f"the mapping's {part} must be a list of values")
            continue
        errors += _validate_list(part, places[part], slots)

    buttons = mapping.get("buttons") or []
    if not isinstance(buttons, list):
        return [*errors, "the mapping's buttons must be a list"]
    mapped: dict[int, list[object]] = {}
    for entry in buttons:
        index = entry.get("index") if isinstance(entry, dict) else None
        if not isinstance(index, int) or isinstance(index, bool):
            errors.append("each mapped button needs an integer index and a list of slots")
        elif index in mapped:
            errors.append(f"button {index + 1} is mapped twice")
        elif index not in places["buttons"]:
            errors.append(f"button {index + 1} of the template takes no value")
        else:
            mapped[index] = entry.get("slots") if isinstance(entry.get("slots"), list) else []
    for index, place in places["buttons"].items():
        slots = mapped.get(index)
        if not slots:
            errors.append(f"{place.label} is not mapped")
        elif len(slots) > 1:
            errors.append(f"{place.label} takes 1 value, the mapping gives {len(slots)}")
        else:
            errors += _validate_slot(place, slots[0])
    return errors


def _validate_list(part: str, places: list[Place], slots: list[object]) -> list[str]:
    errors: list[str] = []
    for i, place in enumerate(places):
        if i >= len(slots):
            errors.append(
                f"{place.label} is not mapped (the template has {len(places)}, "
                f"the mapping {len(slots)})"
            )
        else:
            errors += _validate_slot(place, slots[i])
    if len(slots) > len(places):
        if places:
            errors.append(
                f"the template's {part} has {len(places)} placeholders, the mapping {len(slots)}"
            )
        else:
            errors.append(f"the template's {part} takes no value, the mapping gives {len(slots)}")
    return errors


def _validate_slot(place: Place, slot: Any) -> list[str]:
    if not isinstance(slot, dict):
        return [f"{place.label}: a value must be an object with source and value"]
    source, value, fallback = slot.get("source"), slot.get("value"), slot.get("fallback")
    if source not in SOURCES:
        return [f"{place.label}: unknown source {source!r} (use {', '.join(SOURCES)})"]
    if not isinstance(value, str) or not value.strip():
        return [f"{place.label}: the {source} is empty"]
    if fallback is not None and not isinstance(fallback, str):
        return [f"{place.label}: the fallback must be text"]
    errors: list[str] = []
    if source == "field" and value not in FIELDS:
        errors.append(
            f"{place.label}: unknown contact field '{value}' (fields: {', '.join(FIELDS)})"
        )
    elif source == "literal":
        errors += [f"{place.label}: {p}" for p in [_problem(place.kind, value.strip())] if p]
    elif source == "text":
        static = PLACEHOLDER_RE.sub("x", value)
        if place.kind == "header_text" and _HEADER_BAD.search(static):
            errors.append(f"{place.label}: {_problem(place.kind, static)}")
    if fallback is not None and fallback.strip():
        problem = _problem(place.kind, fallback.strip())
        if problem:
            errors.append(f"{place.label}: the fallback {problem}")
    return errors


def _problem(kind: str, value: str) -> str | None:
    """Why Infobip would refuse `value` in this place (None when it is fine)."""
    if not value:
        return "is empty"
    if kind == "header_text" and _HEADER_BAD.search(value):
        return "cannot have new-line/tab characters or more than 4 consecutive spaces"
    if kind == "header_media":
        if not value.lower().startswith(("https://", "http://")) or re.search(r"\s", value):
            return "is not an http(s) URL"
        if len(value) > MEDIA_URL_MAX:
            return f"is longer than {MEDIA_URL_MAX} characters"
    if kind == "URL" and re.search(r"\s", value):
        return "cannot contain spaces (it is appended to the button's URL)"
    if kind == "COPY_CODE" and len(value) > COPY_CODE_MAX:
        return f"is longer than {COPY_CODE_MAX} characters"
    return None


# --- per-recipient resolution ---------------------------------------------------------------


def mapping_resolve(
    *, template: TemplateLike, mapping: dict[str, Any], contact: dict[str, Any]
) -> Resolved:
    """The values for one recipient, or the placeholders it has no usable value for."""
    places = template_places(template)
    missing: list[str] = []
    mapping = mapping or {}

    def resolve(place: Place, slot: Any) -> str:
        value, problem = _resolve_slot(place, slot, contact)
        if problem:
            missing.append(problem)
        return value or ""

    body = [resolve(p, _nth(mapping.get("body"), i)) for i, p in enumerate(places["body"])]
    header = None
    if places["header"]:
        header = resolve(places["header"][0], _nth(mapping.get("header"), 0))
    by_index = {
        e.get("index"): _nth(e.get("slots"), 0)
        for e in mapping.get("buttons") or []
        if isinstance(e, dict)
    }
    buttons: list[dict[str, Any]] = []
    for button in template.value_buttons:
        index, kind = int(button["index"]), button["type"]
        if index in places["buttons"]:
            parameter = resolve(places["buttons"][index], by_index.get(index))
        else:  # a quick reply: its label is the payload inbound replies carry back
            label = str(_button(template, index).get("text") or f"button {index + 1}")
            parameter = label[:QUICK_REPLY_PAYLOAD_MAX]
        buttons.append({"index": index, "type": kind, "parameter": parameter})
    if missing:
        return Resolved(values=None, missing=missing)
    header_type = (template.header_format or "TEXT").upper()
    values = TemplateValues(body=body, header=header, buttons=buttons, header_type=header_type)
    return Resolved(values=values, missing=[])


def _nth(slots: Any, i: int) -> Any:
    return slots[i] if isinstance(slots, list) and i < len(slots) else None


def _resolve_slot(
    place: Place, slot: Any, contact: dict[str, Any]
) -> tuple[str | None, str | None]:
    """(value, None) or (None, why this recipient cannot be sent this placeholder)."""
    if not isinstance(slot, dict):
        return None, f"{place.label} is not mapped"
    source, ref = slot.get("source"), str(slot.get("value") or "")
    if source == "literal":
        value = _clean(ref)
    elif source == "field":
        value = _clean(contact.get(ref))
    elif source == "attribute":
        value = _clean((contact.get("attributes") or {}).get(ref))
    elif source == "text":
        value = _interpolate(ref, contact)
    else:
        return None, f"{place.label} has an unknown source {source!r}"
    problem = _problem(place.kind, value) if value else None
    if value and not problem:
        return value, None
    fallback = _clean(slot.get("fallback"))
    if fallback and not _problem(place.kind, fallback):
        return fallback, None
    what = f"{source} '{ref}'" if source in {"field", "attribute"} else source
    if problem:
        return None, f"{place.label} ({what}) {problem}"
    return None, f"{place.label} ({what}) has no value and no fallback"


def _interpolate(text: str, contact: dict[str, Any]) -> str | None:
    """`text` with its `{{name}}` references filled in; None when one of them has no value."""
    found_all = True

    def fill(match: re.Match[str]) -> str:
        nonlocal found_all
        ref = match.group(1)
        raw = contact.get(ref) if ref in FIELDS else (contact.get("attributes") or {}).get(ref)
        value = _clean(raw)
        if value is None:
            found_all = False
            return ""
        return value

    result = PLACEHOLDER_RE.sub(fill, text)
    return _clean(result) if found_all else None


def _clean(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list | tuple | set):
        return None
    text = str(value).strip()
    return text or None


def _filename(url: str) -> str:
    name = url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return (name or "document.pdf")[:240]
