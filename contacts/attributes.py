"""Typed contact attributes: the four types, and how a cell of each type is read.

Attributes stay free JSON on the contact (any key works as a `{{placeholder}}` and in a text
rule), but a key can be declared as a number, a date or a boolean (`AttributeDefinition`:
on import, in the admin, the UI, `manage.py contact_attribute` or the API). What a declaration
changes: an import or an API upsert checks and normalises the values of that key (a number is
stored as its digits, `1,234.50` → `1234.50`; a date as ISO `YYYY-MM-DD`; a boolean as
`true`/`false`), and a segment rule on the key compares as that type (campaigns/segment_sql.py,
which also reads values stored before the declaration, as long as they are in those forms).
Values stay JSON strings, so placeholders render them as they were written.
"""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models


class AttributeType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    BOOLEAN = "boolean", "Yes / no"


class DateOrder(models.TextChoices):
    """How a file writes its dates: which of day, month and year comes first."""

    YMD = "ymd", "2026-12-31 (year first)"
    DMY = "dmy", "31/12/2026 (day first)"
    MDY = "mdy", "12/31/2026 (month first)"


# What SQL reads as a number or a date in a stored value (campaigns/segment_sql.py): the forms
# the parsers below write, so values stored before a declaration compare when they have them.
NUMBER_PATTERN = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
# An attribute key, as placeholders and segment rules name it.
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off"})

# Spaces people put inside numbers (`1 234,50`, with a no-break or narrow no-break space) and
# the currency signs a shop's export puts around them.
_NUMBER_NOISE = str.maketrans("", "", " \u00a0\u202f'€$£¥")
_PLAIN = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)$")
_THOUSANDS_COMMA = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")  # 1,234,567.89
_THOUSANDS_DOT = re.compile(r"^[-+]?\d{1,3}(\.\d{3})+(,\d+)?$")  # 1.234.567,89
_DECIMAL_COMMA = re.compile(r"^[-+]?\d*,\d+$")  # 59,90
_DATE_PARTS = re.compile(r"^(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})(?:[T ].*)?$")
_MAX_DIGITS = 30


def parse_number(text: str) -> str | None:
    """The number a cell holds, as plain digits (`1.234,50` → `1234.50`); None if it is none.

    `1,234` reads as one thousand two hundred and thirty-four (thousands separators win over a
    decimal comma when the groups are of three), `59,90` as fifty-nine point nine.
    """
    cell = text.strip().translate(_NUMBER_NOISE)
    if not cell or len(cell) > _MAX_DIGITS + 10:
        return None
    if _THOUSANDS_COMMA.match(cell):
        cell = cell.replace(",", "")
    elif _THOUSANDS_DOT.match(cell) and (cell.count(".") > 1 or "," in cell):
        cell = cell.replace(".", "").replace(",", ".")
    elif _DECIMAL_COMMA.match(cell):
        cell = cell.replace(",", ".")
    if not _PLAIN.match(cell):
        return None
    try:
        number = Decimal(cell)
    except InvalidOperation:
        return None
    if not number.is_finite() or len(number.as_tuple().digits) > _MAX_DIGITS:
        return None
    return format(number, "f")


def date_order_guess(cells: list[str], *, region: str | None = None) -> DateOrder:
    """The order a column's dates are written in, from a sample (year first when in doubt)."""
    day_first = month_first = year_first = False
    for cell in cells:
        match = _DATE_PARTS.match(cell.strip())
        if not match:
            continue
        first, second = int(match.group(1)), int(match.group(2))
        if len(match.group(1)) == 4:
            year_first = True
        elif first > 12:
            day_first = True
        elif second > 12:
            month_first = True
    if year_first and not (day_first or month_first):
        return DateOrder.YMD
    if day_first and not month_first:
        return DateOrder.DMY
    if month_first and not day_first:
        return DateOrder.MDY
    # Nothing tells (every day is 12 or less): the United States writes the month first.
    return DateOrder.MDY if region in ("US", "PH", "FM", "MH", "PW") else DateOrder.DMY


def parse_date(text: str, order: str = DateOrder.YMD) -> str | None:
    """The date a cell holds as ISO `YYYY-MM-DD` (a time after it is ignored); None if none.

    An ISO date (four-digit year first) is read as such whatever `order` says; other cells
    need a four-digit year.
    """
    match = _DATE_PARTS.match(text.strip())
    if not match:
        return None
    a, b, c = match.groups()
    if len(a) == 4:
        year, month, day = a, b, c
    elif len(c) != 4:
        return None
    elif order == DateOrder.MDY:
        month, day, year = a, b, c
    else:
        day, month, year = a, b, c
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def parse_boolean(text: str) -> str | None:
    """`true` or `false` for yes/no, true/false, 1/0, on/off (any case); None otherwise."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return "true"
    if word in FALSE_WORDS:
        return "false"
    return None


def attribute_value_clean(
    value: object, kind: str, *, order: str = DateOrder.YMD
) -> tuple[object, str]:
    """(value to store, problem): a typed key's value normalised, or the reason it is refused.

    Text keys take any value as it is; JSON numbers and booleans are accepted for number and
    boolean keys (the API sends them so). An empty value is stored as it is (it clears nothing
    and compares as empty).
    """
    if kind == AttributeType.TEXT or value is None or value == "":
        return value, ""
    if kind == AttributeType.NUMBER:
        if isinstance(value, bool):
            return value, "not a number"
        if isinstance(value, int | float | Decimal):
            parsed = parse_number(str(value))
        else:
            parsed = parse_number(str(value)) if isinstance(value, str) else None
        return (parsed, "") if parsed is not None else (value, "not a number")
    if kind == AttributeType.DATE:
        parsed = parse_date(value, order) if isinstance(value, str) else None
        return (parsed, "") if parsed is not None else (value, "not a date (YYYY-MM-DD)")
    if kind == AttributeType.BOOLEAN:
        if isinstance(value, bool):
            return ("true" if value else "false"), ""
        parsed = parse_boolean(str(value)) if isinstance(value, str | int) else None
        return (parsed, "") if parsed is not None else (value, "not yes or no")
    return value, f"unknown type {kind!r}"


def attributes_clean(attributes: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    """`attributes` with declared keys' values normalised; ValueError naming the first bad one."""
    if not types:
        return attributes
    clean = dict(attributes)
    for key in attributes.keys() & types.keys():
        value, problem = attribute_value_clean(attributes[key], types[key])
        if problem:
            raise ValueError(f"attributes.{key}: {problem}")
        clean[key] = value
    return clean
