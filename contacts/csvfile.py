"""Reading contact CSV files: file-level checks, delimiter and header, streamed rows.

Everything here fails with ImportFileError and a message a person can act on (what is wrong,
where: row number or byte offset). Rows are streamed; nothing reads the whole file into memory.
Row numbers count CSV records with the header as row 1, which is the spreadsheet row number
(and the file's line number unless a cell spans lines).
"""

import codecs
import contextlib
import csv
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from core.csvsafe import csv_cell_restore

DELIMITERS = ",;\t|"
KNOWN_FIELDS = ("phone", "first_name", "last_name", "language", "timezone", "opted_out")
# Export-only columns (see contacts_export): ignored on import, so an export re-imports cleanly.
IGNORED_FIELDS = frozenset(
    {"id", "country", "lists", "opted_out_at", "opted_out_source", "opted_out_channel",
     "created_at", "updated_at", "whatsapp_last_inbound_at"}
)  # fmt: skip
ALIASES = {
    "phone_number": "phone", "mobile": "phone", "mobile_number": "phone", "msisdn": "phone",
    "firstname": "first_name", "given_name": "first_name",
    "lastname": "last_name", "surname": "last_name", "family_name": "last_name",
    "lang": "language", "locale": "language", "time_zone": "timezone", "tz": "timezone",
    "opt_out": "opted_out", "optout": "opted_out", "optedout": "opted_out",
}  # fmt: skip
_CHUNK = 1 << 20
_SNIFF_BYTES = 64 * 1024


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; nothing has been written."""


def normalise_column(name: str) -> str:
    """Header cell → snake_case key (`First Name` → `first_name`, `customerId` → `customer_id`)."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip().lstrip("\ufeff"))
    key = re.sub(r"\W+", "_", name).strip("_").lower()
    return ALIASES.get(key, key)


@dataclass
class Layout:
    """What the header says: the delimiter, which column is what, and the raw header."""

    delimiter: str
    header: list[str]
    phone: int
    known: dict[str, int]  # field name → column index (phone excluded)
    attributes: list[tuple[int, str]]  # (column index, attribute key)
    notes: list[str] = field(default_factory=list)  # file-level warnings (e.g. unnamed columns)

    @property
    def width(self) -> int:
        return len(self.header)


@contextlib.contextmanager
def open_source(source: str | os.PathLike | BinaryIO) -> Iterator[BinaryIO]:
    """A seekable binary handle on `source` (a path, or a binary file object such as an upload)."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise ImportFileError("no such file")
        with path.open("rb") as fh:
            yield fh
        return
    if isinstance(source, io.TextIOBase) or isinstance(source.read(0), str):
        raise ImportFileError("the CSV must be opened in binary mode")
    if source.seekable():
        source.seek(0)
        yield source
        return
    # Two passes need a seekable file: spool a stream (e.g. a socket) to a temporary file.
    with tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(source, spool, _CHUNK)
        spool.seek(0)
        yield spool


def check_bytes(fh: BinaryIO) -> None:
    """Refuse empty, binary and non-UTF-8 files, naming the byte offset and line of the fault."""
    fh.seek(0)
    head = fh.read(8)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) or head.startswith(
        (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    ):
        raise ImportFileError("the file is UTF-16/UTF-32 encoded: save it as CSV UTF-8")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("this is a spreadsheet (xlsx/xls), not a CSV: export it as CSV UTF-8")
    fh.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line, content = 0, 1, False
    while chunk := fh.read(_CHUNK):
        nul = chunk.find(b"\x00")
        if nul >= 0:
            where = offset + nul
            if where < 8192:
                raise ImportFileError("binary file (it contains NUL bytes): not a CSV")
            line_at = line + chunk.count(b"\n", 0, nul)
            raise ImportFileError(f"NUL byte at byte offset {where} (line {line_at}): not a CSV")
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            bad = chunk[exc.start : exc.start + 1].hex().upper()
            line_at = line + chunk.count(b"\n", 0, max(exc.start, 0))
            raise ImportFileError(
                f"not UTF-8: invalid byte 0x{bad} at byte offset {offset + exc.start} "
                f"(line {line_at}); save the file as CSV UTF-8"
            ) from None
        content = content or bool(text.strip("\ufeff \t\r\n"))
        line += chunk.count(b"\n")
        offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportFileError(
            f"not UTF-8: the file ends inside a multi-byte character (byte offset {offset})"
        ) from None
    if not content:
        raise ImportFileError("the file is empty")


@contextlib.contextmanager
def _text(fh: BinaryIO) -> Iterator[io.TextIOWrapper]:
    fh.seek(0)
    # utf-8-sig drops a BOM when there is one; newline="" is what the csv module wants.
    wrapper = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
    try:
        yield wrapper
    finally:
        wrapper.detach()  # closing the wrapper must not close the caller's binary file


def detect_delimiter(sample: str) -> str:
    """The delimiter among , ; TAB | (csv.Sniffer, checked against the header line)."""
    header = sample.split("\n", 1)[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    if "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed and (counts[sniffed] or not any(counts.values())):
        return sniffed
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_layout(fh: BinaryIO) -> Layout:
    """Detect the delimiter and map the header row; refuse a header without a phone column."""
    with _text(fh) as text:
        delimiter = detect_delimiter(text.read(_SNIFF_BYTES))
    with _text(fh) as text:
        try:
            header = next(csv.reader(text, delimiter=delimiter, strict=True), [])
        except csv.Error as exc:
            raise ImportFileError(f"row 1 (header): malformed CSV ({exc})") from None
    keys = [normalise_column(cell) for cell in header]
    if "phone" not in keys:
        found = ", ".join(repr(c.strip()) for c in header if c.strip()) or "nothing"
        raise ImportFileError(
            f"no phone column: the header row must have a 'phone' column (found {found})"
        )
    layout = Layout(delimiter=delimiter, header=header, phone=-1, known={}, attributes=[])
    seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        if not key:
            layout.notes.append(f"column {index + 1} has no name: ignored")
            continue
        if key in seen:
            raise ImportFileError(
                f"columns {seen[key] + 1} and {index + 1} are both {key!r}: rename one of them"
            )
        seen[key] = index
        if key == "phone":
            layout.phone = index
        elif key in KNOWN_FIELDS:
            layout.known[key] = index
        elif key not in IGNORED_FIELDS:
            layout.attributes.append((index, key))
    return layout


def iter_rows(fh: BinaryIO, layout: Layout) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for every data row, header skipped; malformed CSV → ImportFileError."""
    with _text(fh) as text:
        reader = csv.reader(text, delimiter=layout.delimiter, strict=True)
        rownum = 1
        try:
            next(reader, None)
            for rownum, row in enumerate(reader, start=2):
                # A Herald export's defused cells ('=…) come back as they were written.
                yield rownum, [csv_cell_restore(c) if c[:1] == "'" else c for c in row]
        except csv.Error as exc:
            raise ImportFileError(
                f"row {rownum + 1}: malformed CSV ({exc}); check the quotes on that row"
            ) from None
