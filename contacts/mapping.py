"""An import's column mapping: which column is the phone, a name, the consent, a typed attribute.

Every import has one. The browser's mapping step shows a sample of the file with a suggestion
per column (`mapping_suggest`: the header's words, the declared attribute types, what the cells
look like) for a person to correct; `import_contacts --map "Mobile=phone" --map
"Spend=number:last_order_value"` and the API take the same targets; without any, the suggestion
is used as it is (what an import did before mappings existed, plus consent columns).

Targets: `phone`, `first_name`, `last_name`, `language`, `timezone`, `consent` (yes/no/true/1/
opted_in/unsubscribed… — yes records consent, no opts out; per channel), `opted_out` (yes opts
out), `consent_date` (when the consent in that row was given or withdrawn), an attribute
(`text`, `number`, `date` or `boolean`, under a key), or `ignore`.
"""

import datetime as dt
import re
import zoneinfo
from dataclasses import asdict, dataclass, replace
from typing import Any

from contacts.attributes import (
    KEY_RE,
    AttributeType,
    DateOrder,
    date_order_guess,
    parse_boolean,
    parse_date,
    parse_number,
)
from contacts.csvfile import ALIASES, IGNORED_FIELDS, ImportFileError, Layout, normalise_column

FIELDS = ("phone", "first_name", "last_name", "language", "timezone")
TARGETS = (*FIELDS, "consent", "opted_out", "consent_date", "attribute", "ignore")
TARGET_LABELS = {
    "phone": "Phone number",
    "first_name": "First name",
    "last_name": "Last name",
    "language": "Language",
    "timezone": "Time zone",
    "consent": "Consent (yes = may message, no = opted out)",
    "opted_out": "Opted out (yes = opted out)",
    "consent_date": "Consent date",
    "attribute": "Attribute",
    "ignore": "Ignore this column",
}
CONSENT_CHANNELS = ("all", "sms", "whatsapp")

# Header words (after normalise_column) that name a consent, opt-out or consent-date column.
CONSENT_HEADERS = frozenset(
    {
        "consent",
        "opt_in",
        "optin",
        "opted_in",
        "subscribed",
        "marketing_consent",
        "sms_consent",
        "whatsapp_consent",
        "sms_opt_in",
        "whatsapp_opt_in",
        "marketing_opt_in",
        "permission",
        "gdpr_consent",
        "accepts_marketing",
        "accepts_sms",
        "email_consent",
    }
)
# Header parts that, with cells all yes/no or opted in/out, make a column a consent column
# ("Newsletter", "SMS marketing OK", "GDPR permission").
CONSENT_WORDS = (
    "consent",
    "opt_in",
    "optin",
    "subscri",
    "newsletter",
    "marketing",
    "permission",
    "gdpr",
)
OPT_OUT_HEADERS = frozenset({"opted_out", "unsubscribed", "do_not_contact", "dnc", "blacklisted"})
CONSENT_DATE_HEADERS = frozenset(
    {
        "consent_date",
        "opt_in_date",
        "optin_date",
        "consented_at",
        "consent_at",
        "subscribed_at",
        "subscription_date",
        "consent_timestamp",
        "opted_in_at",
        "consent_given_at",
    }
)

# What a consent cell says: yes/no words answer the column's question; status words say the
# state whatever the column (an "opted_out" column saying "subscribed" means not opted out).
# Yes and no in the languages Herald's keywords know (fr, es, pt, de, it, nl, tr) too.
_YES = frozenset(
    {
        "yes",
        "y",
        "true",
        "t",
        "1",
        "on",
        "x",
        "granted",
        "given",
        "agree",
        "agreed",
        "accepted",
        "consented",
        "ok",
        "oui",
        "si",
        "sí",
        "ja",
        "sim",
        "evet",
    }
)
_NO = frozenset(
    {
        "no",
        "n",
        "false",
        "f",
        "0",
        "off",
        "declined",
        "refused",
        "denied",
        "non",
        "nein",
        "nee",
        "não",
        "nao",
        "hayır",
        "hayir",
    }
)
_IN = frozenset({"opted_in", "opt_in", "optin", "subscribed", "subscribe", "active", "confirmed"})
_OUT = frozenset(
    {
        "opted_out",
        "opt_out",
        "optout",
        "unsubscribed",
        "unsubscribe",
        "revoked",
        "withdrawn",
        "stop",
        "stopped",
        "blocked",
        "do_not_contact",
    }
)


@dataclass(frozen=True)
class Column:
    """Where one column goes."""

    target: str
    key: str = ""  # attribute key
    type: str = AttributeType.TEXT  # attribute type
    order: str = ""  # how dates are written (date attributes and consent dates)
    channel: str = "all"  # which channel a consent column is about

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", "all", "text")}


def consent_word(text: str) -> str | None:
    """ "yes", "no", "in" or "out" for a consent cell; None when it says none of them."""
    word = re.sub(r"[\s-]+", "_", text.strip().lower())
    for answer, words in (("yes", _YES), ("no", _NO), ("in", _IN), ("out", _OUT)):
        if word in words:
            return answer
    return None


def consent_of(text: str, target: str) -> bool | None:
    """True: the person consents; False: they withdrew; None: blank or not understood."""
    word = consent_word(text)
    if word is None:
        return None
    if word in ("in", "out"):
        return word == "in"
    yes = word == "yes"
    return yes if target == "consent" else not yes  # an opted_out column: yes = withdrew


def consent_date_of(text: str, order: str, zone: str) -> dt.datetime | None:
    """When a consent was given: an ISO date-time (with its offset), or a date (local midnight)."""
    cell = text.strip()
    try:
        found = dt.datetime.fromisoformat(cell.replace("Z", "+00:00"))
    except ValueError:
        found = None
    if found is None:
        day = parse_date(cell, order or DateOrder.YMD)
        if day is None:
            return None
        found = dt.datetime.fromisoformat(day)
    if found.tzinfo is None:
        found = found.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    return found


def cell_value(text: str, column: Column) -> tuple[str | None, str]:
    """A typed attribute cell, normalised (None when it is not of the type) and the problem."""
    if column.type == AttributeType.NUMBER:
        value = parse_number(text)
        return value, "" if value is not None else "is not a number"
    if column.type == AttributeType.DATE:
        value = parse_date(text, column.order or DateOrder.YMD)
        return value, "" if value is not None else "is not a date"
    if column.type == AttributeType.BOOLEAN:
        value = parse_boolean(text)
        return value, "" if value is not None else "is not yes or no"
    return text, ""


# --- suggesting and checking a mapping ------------------------------------------------------


def mapping_suggest(
    header: list[str],
    rows: list[list[str]],
    *,
    declared: dict[str, str],
    region: str | None = None,
) -> list[Column]:
    """A target for every column, from its header, the declared types and the sample's cells."""
    columns: list[Column] = []
    for index, cell in enumerate(header):
        key = normalise_column(cell)
        samples = [row[index] for row in rows if index < len(row) and row[index].strip()]
        columns.append(_suggest_one(key, samples, declared, region))
    # Two columns for one field stay so: mapping_layout refuses them until one is changed.
    return columns


def _suggest_one(
    key: str, samples: list[str], declared: dict[str, str], region: str | None
) -> Column:
    if not key or key in IGNORED_FIELDS:
        return Column("ignore")
    if key in FIELDS:
        return Column(key)
    yes_no = bool(samples) and all(consent_word(s) for s in samples)
    if key in CONSENT_HEADERS or (yes_no and any(word in key for word in CONSENT_WORDS)):
        channel = next((c for c in ("whatsapp", "sms") if c in key), "all")
        return Column("consent", channel=channel)
    if key in OPT_OUT_HEADERS:
        return Column("opted_out")
    if key in CONSENT_DATE_HEADERS:
        return Column("consent_date", order=date_order_guess(samples, region=region))
    if not KEY_RE.match(key):
        return Column("ignore")
    kind = declared.get(key) or _looks_like(samples)
    order = date_order_guess(samples, region=region) if kind == AttributeType.DATE else ""
    return Column("attribute", key=key, type=kind, order=order)


def _looks_like(samples: list[str]) -> str:
    """The type every sample cell has (text when they differ or there are none)."""
    if not samples:
        return AttributeType.TEXT
    if all(parse_number(s) is not None for s in samples) and not all(
        s.strip().startswith(("0", "+")) and len(s.strip()) > 6 for s in samples
    ):  # long digit strings with a leading 0 or + are codes or numbers to dial, not amounts
        return AttributeType.NUMBER
    if all(parse_date(s, DateOrder.DMY) or parse_date(s, DateOrder.MDY) for s in samples):
        return AttributeType.DATE
    return AttributeType.TEXT


def mapping_layout(
    header: list[str], columns: list[Column], *, delimiter: str, notes: list[str] | None = None
) -> Layout:
    """The importer's Layout for a mapping; ImportFileError naming what is wrong with it."""
    if len(columns) != len(header):
        raise ImportFileError(f"the mapping has {len(columns)} columns, the file {len(header)}")
    layout = Layout(
        delimiter=delimiter,
        header=header,
        phone=-1,
        known={},
        attributes=[],
        notes=list(notes or []),
    )
    seen: dict[str, int] = {}
    for index, column in enumerate(columns):
        target = column.target
        if target not in TARGETS:
            raise ImportFileError(f"column {index + 1}: unknown target {target!r}")
        if target == "ignore":
            continue
        name = column.key if target == "attribute" else target
        if target != "consent" and name in seen:
            raise ImportFileError(
                f"columns {seen[name] + 1} and {index + 1} are both {name!r}: rename or "
                "ignore one of them"
            )
        seen[name] = index
        if target == "phone":
            layout.phone = index
        elif target in FIELDS or target == "opted_out":
            layout.known[target] = index
        elif target == "consent":
            if column.channel not in CONSENT_CHANNELS:
                raise ImportFileError(
                    f"column {index + 1}: consent channel is sms, whatsapp or all"
                )
            layout.consent.append((index, column.channel))
        elif target == "consent_date":
            layout.consent_date = (index, column.order or DateOrder.YMD)
        elif not KEY_RE.match(column.key) or column.key in FIELDS:
            raise ImportFileError(
                f"column {index + 1}: {column.key!r} is not an attribute name "
                "(letters, digits and _, not a contact field)"
            )
        elif column.type == AttributeType.TEXT:
            layout.attributes.append((index, column.key))
        elif column.type in AttributeType.values:
            layout.typed.append((index, column.key, column.type, column.order or DateOrder.YMD))
        else:
            raise ImportFileError(f"column {index + 1}: type is text, number, date or boolean")
    if layout.phone < 0:
        found = ", ".join(repr(c.strip()) for c in header if c.strip()) or "nothing"
        raise ImportFileError(
            "no phone column: the header row must have a 'phone' column, or a column mapped "
            f"to the phone number (found {found})"
        )
    return layout


def mapping_from_json(data: object, width: int) -> list[Column] | None:
    """A stored mapping ({"columns": [{...}, ...]}); None when there is none or it is unusable."""
    if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
        return None
    columns = []
    for item in data["columns"][:width]:
        if not isinstance(item, dict) or not isinstance(item.get("target"), str):
            return None
        fields = {k: str(v) for k, v in item.items() if k in Column.__dataclass_fields__}
        columns.append(Column(**fields))
    return columns if len(columns) == width else None


def mapping_json(columns: list[Column]) -> dict[str, Any]:
    """A mapping as stored on an import job (and answered by the API)."""
    return {"columns": [column.as_dict() for column in columns]}


_TYPES = {t.value for t in AttributeType}


def mapping_apply_options(
    header: list[str], columns: list[Column], specs: list[str], *, date_order: str = ""
) -> list[Column]:
    """`--map HEADER=TARGET` options over a suggestion: TARGET is a field, consent[:channel],
    opted_out, consent_date, ignore, or TYPE[:key] for an attribute (text, number, date,
    boolean). ImportFileError naming the bad option."""
    out = list(columns)
    keys = [normalise_column(cell) for cell in header]
    for spec in specs:
        name, sep, target = spec.partition("=")
        name, target = name.strip(), target.strip()
        if not sep or not name or not target:
            raise ImportFileError(f"--map {spec!r}: write it COLUMN=TARGET, e.g. Mobile=phone")
        matches = [i for i, cell in enumerate(header) if cell.strip() == name]
        matches = matches or [i for i, key in enumerate(keys) if key == normalise_column(name)]
        if not matches:
            shown = ", ".join(repr(c) for c in header)
            raise ImportFileError(f"--map {spec!r}: no column {name!r} (the header has {shown})")
        index = matches[0]
        kind, _, rest = target.partition(":")
        kind = ALIASES.get(kind, kind)
        if kind in _TYPES:
            key = rest.strip() or keys[index]
            order = date_order if kind == AttributeType.DATE else ""
            out[index] = Column(
                "attribute", key=key, type=kind, order=order or columns[index].order
            )
        elif kind == "consent":
            out[index] = Column("consent", channel=rest.strip() or "all")
        elif kind == "consent_date":
            out[index] = Column("consent_date", order=date_order or columns[index].order)
        elif kind in TARGETS and kind != "attribute" and not rest:
            out[index] = Column(kind)
        else:
            raise ImportFileError(
                f"--map {spec!r}: the target is one of {', '.join(FIELDS)}, consent[:sms|whatsapp]"
                ", opted_out, consent_date, ignore, or text|number|date|boolean[:key]"
            )
    if date_order:  # the file's date order, for every date column
        out = [
            replace(c, order=date_order)
            if c.target == "consent_date" or (c.target == "attribute" and c.type == "date")
            else c
            for c in out
        ]
    return out
