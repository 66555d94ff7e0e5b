"""Every CSV Herald writes goes through here: cells a spreadsheet would run are made inert.

OWASP's CSV-injection rule: a cell starting with `=`, `+`, `-`, `@` (and tab or CR, which some
spreadsheets skip before reading the rest) may be taken as a formula. `defusedcsv` does the
escaping (a leading `'`, which spreadsheets show as text); two things are handled around it:

- Numbers stay verbatim: E.164 phone numbers (`+41793026727`), amounts (`-12.50`) and other
  cells of only digits, spaces, dots, commas and parentheses after an optional sign. A
  spreadsheet can at most compute a number from them, and defusedcsv would turn `+4179…` into
  `'+4179…`, which is no longer a phone number to the importer or to a person's eye.
- defusedcsv leaves a leading tab or CR alone; those cells get the `'` here.

`csv_cell_restore` undoes the escaping on import, so an exported contacts file re-imports to
the same contacts (a name that really begins with `'=` loses its apostrophe: the price of a
lossless round trip for everything else).
"""

import re
from collections.abc import Iterable, Iterator
from numbers import Number
from typing import IO, Any

from defusedcsv import csv as defused

_NUMBERISH = re.compile(r"^[+-]?[\d\s.,()]*\d[\d\s.,()]*$")
_TRIGGERS = ("=", "+", "-", "@", "|", "%", "\t", "\r")


class _Verbatim(str):
    """A cell written as is: defusedcsv passes numbers through untouched."""

    __slots__ = ()


# defusedcsv skips `numbers.Number` instances; registering our verbatim cells as Numbers is the
# documented-by-code way through it without reaching into its private helpers.
Number.register(_Verbatim)


def csv_cell(value: Any) -> Any:
    """One cell, prepared for defusedcsv: numbers verbatim, tab/CR starts escaped."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    if _NUMBERISH.match(value):
        return _Verbatim(value)
    if value[:1] in ("\t", "\r"):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer-like: writerow/writerows through defusedcsv, numbers kept verbatim."""

    def __init__(self, out: IO[str] | Any, **fmtparams: Any) -> None:
        self._writer = defused.writer(out, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: IO[str] | Any, **fmtparams: Any) -> SafeWriter:
    """A CSV writer whose cells a spreadsheet cannot evaluate (see the module docstring)."""
    return SafeWriter(out, **fmtparams)


class _Echo:
    """A file whose write() returns the line: lets a writer feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The rows as defused CSV lines, one at a time (for StreamingHttpResponse)."""
    writer = csv_writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def csv_cell_restore(value: str) -> str:
    """Undo the escaping of csv_cell/defusedcsv on a cell read back from a Herald export."""
    if len(value) > 1 and value[0] == "'" and (value[1] in _TRIGGERS or value[1:3] == "\\|"):
        value = value[1:]
        if value[0] != "\t" and value[0] != "\r":
            # defusedcsv escapes every "|" of the cells it quotes; undo exactly that.
            value = value.replace("\\|", "|")
    return value
