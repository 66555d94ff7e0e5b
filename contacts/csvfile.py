"""Reading contact CSV files: encoding, file-level checks, delimiter and header, streamed rows.

Everything here fails with ImportFileError and a message a person can act on (what is wrong,
where: row number or byte offset). Rows are streamed; nothing reads the whole file into memory.
Row numbers count CSV records with the header as row 1, which is the spreadsheet row number
(and the file's line number unless a cell spans lines).

Files are read as UTF-8. A file in another encoding that spreadsheets write — UTF-16 (Excel's
"Unicode text", with or without its byte-order mark) or Windows-1252 (Excel's "CSV" on
Windows) — is recognised (`detect_encoding`) and transcoded to UTF-8 into a temporary file
first (`utf8_source`), so everything after reads UTF-8 as before and a UTF-8 file costs
nothing more.
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
# Export-only columns (see contacts_export): ignored on import, so an export re-imports cleanly.
IGNORED_FIELDS = frozenset(
    {
        "id",
        "country",
        "lists",
        "opted_out_at",
        "opted_out_source",
        "opted_out_channel",
        "created_at",
        "updated_at",
        "whatsapp_last_inbound_at",
    }
)
ALIASES = {
    "phone_number": "phone",
    "mobile": "phone",
    "mobile_number": "phone",
    "msisdn": "phone",
    "tel": "phone",
    "telephone": "phone",
    "cell": "phone",
    "cell_phone": "phone",
    "cellphone": "phone",
    "mobile_phone": "phone",
    "phone_no": "phone",
    "gsm": "phone",
    "firstname": "first_name",
    "given_name": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "lang": "language",
    "locale": "language",
    "time_zone": "timezone",
    "tz": "timezone",
    "opt_out": "opted_out",
    "optout": "opted_out",
    "optedout": "opted_out",
}
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
    """Which column is what (contacts/mapping.py builds it), the delimiter and the raw header."""

    delimiter: str
    header: list[str]
    phone: int
    known: dict[str, int]  # field name → column index (phone excluded)
    attributes: list[tuple[int, str]]  # (column index, attribute key) of text attributes
    notes: list[str] = field(default_factory=list)  # file-level warnings (e.g. unnamed columns)
    # (column index, key, type, date order) of number, date and boolean attributes
    typed: list[tuple[int, str, str, str]] = field(default_factory=list)
    consent: list[tuple[int, str]] = field(default_factory=list)  # (column index, channel)
    consent_date: tuple[int, str] | None = None  # (column index, date order)

    @property
    def width(self) -> int:
        return len(self.header)


@contextlib.contextmanager
def open_source(source: str | os.PathLike[str] | BinaryIO) -> Iterator[BinaryIO]:
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


UTF8, UTF16, CP1252 = "utf-8", "utf-16", "windows-1252"
# Bytes Windows-1252 leaves undefined: a file holding them is in neither encoding.
_CP1252_HOLES = frozenset(b"\x81\x8d\x8f\x90\x9d")


def detect_encoding(fh: BinaryIO) -> str:
    """UTF-8 (the default, with or without a BOM), UTF-16 (a BOM, or NULs in every other byte
    of ASCII text) or Windows-1252 (bytes that are not UTF-8, but are all defined there).

    Reads the file once when it is not plainly UTF-16; anything else is left to check_bytes,
    which then names the fault.
    """
    fh.seek(0)
    head = fh.read(4096)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise ImportFileError("the file is UTF-32 encoded: save it as CSV UTF-8")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return UTF16
    pairs = len(head) // 2
    if pairs >= 4:
        # UTF-16 without a BOM: text of mostly ASCII has a NUL in every other byte.
        odd_nuls = head[1 : pairs * 2 : 2].count(0)
        even_nuls = head[0 : pairs * 2 : 2].count(0)
        if odd_nuls > 0.9 * pairs and even_nuls == 0:
            return "utf-16-le"
        if even_nuls > 0.9 * pairs and odd_nuls == 0:
            return "utf-16-be"
    fh.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    holes = False
    while chunk := fh.read(_CHUNK):
        holes = holes or not _CP1252_HOLES.isdisjoint(chunk)
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError:
            return UTF8 if holes or _has_holes(fh) else CP1252
    return UTF8


def _has_holes(fh: BinaryIO) -> bool:
    while chunk := fh.read(_CHUNK):
        if not _CP1252_HOLES.isdisjoint(chunk):
            return True
    return False


@contextlib.contextmanager
def utf8_source(fh: BinaryIO, encoding: str) -> Iterator[BinaryIO]:
    """`fh` itself when it is UTF-8, else a temporary UTF-8 copy of it (streamed)."""
    if encoding == UTF8:
        yield fh
        return
    fh.seek(0)
    reader = codecs.getreader(encoding)(fh, "strict")
    with tempfile.TemporaryFile() as copy:
        try:
            # The UTF-16 codec drops the byte-order mark; the copy gets none.
            while text := reader.read(_CHUNK):
                copy.write(text.encode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"not valid {encoding} ({exc.reason}): save the file as CSV UTF-8"
            ) from None
        copy.seek(0)
        yield copy


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


def read_header(fh: BinaryIO) -> tuple[str, list[str]]:
    """The delimiter and the header row (a UTF-8 file, after check_bytes)."""
    with _text(fh) as text:
        delimiter = detect_delimiter(text.read(_SNIFF_BYTES))
    with _text(fh) as text:
        try:
            header = next(csv.reader(text, delimiter=delimiter, strict=True), [])
        except csv.Error as exc:
            raise ImportFileError(f"row 1 (header): malformed CSV ({exc})") from None
    return delimiter, header


def header_notes(header: list[str]) -> list[str]:
    """File-level notes on the header (columns without a name are ignored)."""
    return [
        f"column {index + 1} has no name: ignored"
        for index, cell in enumerate(header)
        if not normalise_column(cell)
    ]


def read_sample(fh: BinaryIO, delimiter: str, rows: int) -> list[list[str]]:
    """The first `rows` data rows (for a mapping step); a malformed row ends the sample."""
    sample: list[list[str]] = []
    with _text(fh) as text:
        reader = csv.reader(text, delimiter=delimiter)
        next(reader, None)
        try:
            for row in reader:
                sample.append([csv_cell_restore(c) if c[:1] == "'" else c for c in row])
                if len(sample) >= rows:
                    break
        except csv.Error:
            pass
    return sample


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
