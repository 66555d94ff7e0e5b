"""The contact CSV import engine behind `contacts_import` (command, admin and browser).

Two passes over the file, so bad input writes nothing and memory stays flat:

1. Validation (contacts.survey, no database): empty / binary / non-UTF-8 file, a header without
   a phone column, malformed quoting, a row with more cells than the header, no data rows —
   any of these aborts before a single write. It also keys every number cheaply to find runs
   of consecutive numbers (the spam guard) and the numbers that occur more than once.
2. Import, BATCH_SIZE rows at a time, one transaction per batch: parse and validate the
   numbers, read the batch's existing contacts in one query, then one upsert for the new and
   changed contacts, the opt-outs, and the missing list memberships. Unchanged contacts are
   not written, which is what makes a re-import a no-op (created=0 updated=0). If the database
   fails half-way, committed batches stay; running the same import again completes it.

With `workers` (the command line, files of 1 MB and more), pass 2's number checks run in that
many `spawn` processes (contacts.checkpool) and the batches are written, in order, by one writer
thread with its own connection, so reading, checking and writing overlap; the results are
consumed in file order, so everything below holds unchanged. The UI's Celery task runs with
workers=0: all in one thread, as a prefork child must (it may not start processes).

Rules: empty cells never erase stored values; unknown columns become attributes; `opted_out`
true/1/yes/y opts out (source=import, with a consent event), but false/no never opts anyone back
in — an import must not undo a STOP. Landlines import with a warning; other non-mobile and
invalid numbers are rejected with their reason and row number (and written to the errors file,
also on a dry run: it is a report, not data). A number that occurs several times in the file is
one contact: its rows are merged in file order (later non-empty cells win) and written once, at
its last row; every extra row counts as `duplicates` with a warning. Rows of such numbers are
held in memory from their first to their last occurrence. (Duplicates are found by the digits
the validation pass keys; one number written with different digits in two rows more than a
batch apart — e.g. once with an extension — is merged by the database instead, and its later
row counts as an update.)
"""

import contextlib
import datetime as dt
import functools
import time
import zoneinfo
from array import array
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import connection, transaction

from contacts import csvfile
from contacts.bulk import FIELDS, add_memberships, fetch_existing, upsert_contacts
from contacts.checkpool import CheckPool, CheckResult
from contacts.csvfile import ImportFileError, Layout
from contacts.mapping import (
    Column,
    cell_value,
    consent_date_of,
    consent_of,
    mapping_json,
    mapping_layout,
    mapping_suggest,
)
from contacts.models import AttributeDefinition, ContactList, ListMembership
from contacts.phones import PhoneChecker, PhoneError, PhoneInfo, SequenceKeyer
from contacts.survey import survey_file
from core.csvsafe import SafeWriter, csv_writer

BATCH_SIZE = 5000
# A batch of the file's rows: (row number, cells).
_Batch = list[tuple[int, list[str]]]
# A pool of checker processes (~0.3 s a worker to start, overlapping pass 1) and the writer
# thread pay only on larger files: below this size (~25,000 rows) all runs in one thread.
POOL_MIN_BYTES = 1 << 20
SAMPLE_SIZE = 100  # rejected rows and warnings kept in the result (counts are always exact)
SUGGEST_ROWS = 20  # rows a suggested mapping looks at
UPDATE_FIELDS = list(FIELDS)
_NAME_MAX = 150
_LANGUAGE_MAX = 20
_TIMEZONES = frozenset(zoneinfo.available_timezones())


@dataclass(frozen=True, slots=True)
class RowIssue:
    row: int
    phone: str
    reason: str


@dataclass
class ImportResult:
    """What an import did. Every data row is exactly one of blank, rejected, duplicates,
    created, updated, unchanged; warnings, opted_out and listed are counted on the side."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicates: int = 0
    blank: int = 0
    warnings: int = 0
    opted_out: int = 0
    consented: int = 0
    listed: int = 0
    sequential: int = 0
    dry_run: bool = False
    delimiter: str = ","
    encoding: str = "utf-8"
    mapping: dict[str, Any] = field(default_factory=dict[str, Any])
    declared: list[str] = field(default_factory=list)
    list_name: str | None = None
    errors_path: str | None = None
    file_notes: list[str] = field(default_factory=list)
    rejected_sample: list[RowIssue] = field(default_factory=list)
    warnings_sample: list[RowIssue] = field(default_factory=list)
    elapsed: float = 0.0

    def summary(self) -> str:
        """The one-line summary, `created=N updated=N rejected=N` first."""
        line = (
            f"created={self.created} updated={self.updated} rejected={self.rejected} "
            f"warnings={self.warnings} unchanged={self.unchanged} duplicates={self.duplicates} "
            f"blank={self.blank} opted_out={self.opted_out} consented={self.consented} "
            f"listed={self.listed} rows={self.rows}"
        )
        return line + (" dry_run=true" if self.dry_run else "")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for --json and the browser)."""
        return asdict(self)


@dataclass(slots=True)
class _Entry:
    """One number and what its rows say, merged in file order."""

    row: int  # the first row with this number
    phone: str
    country: str
    derived_tz: str
    fields: dict[str, str]
    attributes: dict[str, str]
    # What the consent columns say (channel → consents?), with the evidence (row and cells)
    # and the consent date; a withdrawal wins over a consent in a later row.
    consent: dict[str, bool] | None = None
    evidence: str = ""
    consent_at: dt.datetime | None = None

    def merge(self, other: "_Entry") -> None:
        self.fields.update(other.fields)
        self.attributes.update(other.attributes)
        if other.consent:
            mine = self.consent or {}
            self.consent = {
                k: mine.get(k, True) and v for k, v in {**mine, **other.consent}.items()
            }
            self.evidence = (
                f"{self.evidence}; {other.evidence}" if self.evidence else other.evidence
            )
            self.consent_at = other.consent_at or self.consent_at


class _Writer:
    """The database writes of an import, one batch at a time and in order, in their own thread.

    While PostgreSQL writes one batch, this process reads and parses the next (the driver
    waits for the server without the GIL). The thread has its own connection, closed at the
    end, so the caller must not be inside a transaction (the importer checks).
    """

    def __init__(self, flush: Callable[[dict[str, "_Entry"], ContactList | None], None]) -> None:
        self._flush = flush
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
        self._pending: Future[None] | None = None

    def submit(self, entries: dict[str, "_Entry"], contact_list: ContactList | None) -> None:
        """Write `entries` once the batch before is written (its error is raised here)."""
        self.wait()
        self._pending = self._executor.submit(self._flush, entries, contact_list)

    def wait(self) -> None:
        """Wait for the batch being written; raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> "_Writer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self.wait()
            elif self._pending is not None:
                self._pending.exception()  # a batch in flight still commits or fails whole
        finally:
            # Looked up in the thread: the thread's own connection, not this one.
            self._executor.submit(lambda: connection.close()).result()
            self._executor.shutdown()


class ContactImporter:
    """One import run; `run()` may be called once."""

    def __init__(
        self,
        *,
        list_name: str | None = None,
        default_region: str | None = None,
        dry_run: bool = False,
        errors_path: str | None = None,
        allow_sequential: bool = False,
        progress: Callable[[int, int], None] | None = None,
        source_name: str = "",
        batch_size: int = BATCH_SIZE,
        workers: int = 0,
        columns: list[Column] | None = None,
        actor: Any = None,
    ) -> None:
        try:
            self.checker = PhoneChecker(default_region)
        except ValueError as exc:
            raise ImportFileError(str(exc)) from None
        self.keyer = SequenceKeyer(default_region)
        self.list_name = (list_name or "").strip() or None
        self.dry_run = dry_run
        self.errors_path = errors_path
        self.allow_sequential = allow_sequential
        self.progress = progress
        self.source_name = source_name
        self.batch_size = batch_size
        # Processes for pass 2's number checks (and a writer thread); 0 runs all in this
        # thread, as before. Only the command line asks for them: a Celery prefork child is
        # daemonic (it may not have children) and shares the cores with the other child's
        # sending, so the UI's import runs single-process and single-threaded.
        self.workers = workers
        # The column mapping (contacts/mapping.py); None: the suggestion for the file's header.
        self.columns = columns
        self.actor = actor  # who imports: the consent events' evidence
        self.region = default_region
        self.result = ImportResult(
            dry_run=dry_run, list_name=self.list_name, errors_path=errors_path
        )
        self._errors: SafeWriter | None = None  # csv writer of the errors file, when there is one
        self._last_row: dict[int, int] = {}  # from the survey: duplicated key → its last row
        self._held: dict[str, _Entry] = {}  # duplicated numbers waiting for their last row
        self._keys: array[int] = array("q")  # from the survey: every row's key, by row number - 2

    def run(self, source: str | Path | BinaryIO) -> ImportResult:
        """Validate the whole file, then import it batch by batch."""
        started = time.monotonic()
        if not self.source_name and isinstance(source, str | Path):
            self.source_name = Path(source).name
        with contextlib.ExitStack() as files:
            raw = files.enter_context(csvfile.open_source(source))
            pool = files.enter_context(self._pool(raw))
            encoding = csvfile.detect_encoding(raw)
            fh = files.enter_context(csvfile.utf8_source(raw, encoding))
            csvfile.check_bytes(fh)
            layout = self._layout(fh)
            self.result.encoding = encoding
            survey = survey_file(fh, layout, self.keyer, allow_sequential=self.allow_sequential)
            self._declare(layout)
            self.result.delimiter = layout.delimiter
            self.result.file_notes = list(layout.notes)
            self.result.sequential = survey.sequential
            self._last_row = survey.last_row
            self._keys = survey.keys
            with self._errors_file(layout), contextlib.ExitStack() as stack:
                contact_list = self._contact_list()
                # Closed here, before the file, also when a write fails half-way.
                batches = stack.enter_context(
                    contextlib.closing(self._batches(csvfile.iter_rows(fh, layout)))
                )
                phone = layout.phone
                checked: Iterator[tuple[_Batch, list[CheckResult] | None]] = (
                    pool.checked(batches, lambda batch: _phones(batch, phone))
                    if pool is not None
                    else ((batch, None) for batch in batches)
                )
                flush = self._flush
                writer = None
                # Inside the caller's transaction (tests) a second connection would not see it.
                if pool is not None and not connection.in_atomic_block:
                    writer = stack.enter_context(_Writer(self._flush))
                    flush = writer.submit
                submitted = 0
                for batch, checks in checked:
                    flush(self._parse_batch(batch, layout, checks), contact_list)
                    # With a writer, what is written by now is every batch before this one.
                    written = submitted if writer is not None else submitted + len(batch)
                    submitted += len(batch)
                    if self.progress and written:
                        self.progress(written, survey.rows)
                # Numbers whose last row the cheap key could not recognise (rare) end here.
                held = list(self._held.items())
                for start in range(0, len(held), self.batch_size):
                    flush(dict(held[start : start + self.batch_size]), contact_list)
                if writer is not None:
                    writer.wait()
                    if self.progress:
                        self.progress(submitted, survey.rows)
        self.result.elapsed = round(time.monotonic() - started, 3)
        return self.result

    def _layout(self, fh: BinaryIO) -> Layout:
        """The mapping's layout (the suggestion for the header when none was given)."""
        delimiter, header = csvfile.read_header(fh)
        notes = csvfile.header_notes(header)
        columns = self.columns
        if columns is None:
            sample = csvfile.read_sample(fh, delimiter, SUGGEST_ROWS)
            columns = mapping_suggest(header, sample, declared={}, region=self.region)
            # A file the header already refuses is refused before the database is asked.
            layout = mapping_layout(header, columns, delimiter=delimiter, notes=notes)
            if layout.attributes or layout.typed:
                declared = dict(AttributeDefinition.objects.values_list("key", "type"))
                columns = mapping_suggest(header, sample, declared=declared, region=self.region)
        self.result.mapping = mapping_json(columns)
        self._header = header
        return mapping_layout(header, columns, delimiter=delimiter, notes=notes)

    def _declare(self, layout: Layout) -> None:
        """Typed attribute columns declare their key's type (not on a dry run)."""
        declared = dict(AttributeDefinition.objects.values_list("key", "type"))
        for _index, key, kind, _order in layout.typed:
            if declared.get(key) != kind:
                self.result.declared.append(f"{key}:{kind}")
                if not self.dry_run:
                    AttributeDefinition.objects.update_or_create(key=key, defaults={"type": kind})

    @contextlib.contextmanager
    def _pool(self, fh: BinaryIO) -> Iterator[CheckPool | None]:
        """The checker processes, started before pass 1 so they are ready for pass 2."""
        if self.workers < 1 or _size(fh) < POOL_MIN_BYTES:
            yield None
            return
        pool = CheckPool(self.workers, self.checker.default_region)
        try:
            yield pool
        finally:
            pool.close()

    def _contact_list(self) -> ContactList | None:
        if not self.list_name:
            return None
        if self.dry_run:
            return ContactList.objects.filter(name=self.list_name).first()
        return ContactList.objects.get_or_create(name=self.list_name)[0]

    @contextlib.contextmanager
    def _errors_file(self, layout: Layout) -> Iterator[None]:
        if not self.errors_path:
            yield
            return
        try:
            fh = open(self.errors_path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise ImportFileError(f"cannot write the errors file: {exc}") from None
        with fh:
            self._errors = csv_writer(fh)  # rejected rows are hostile input: defused
            self._errors.writerow(["row", "reason", *layout.header])
            yield

    def _batches(self, rows: Iterator[tuple[int, list[str]]]) -> Generator[_Batch, None, None]:
        batch: list[tuple[int, list[str]]] = []
        for item in rows:
            batch.append(item)
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _reject(self, rownum: int, row: list[str], phone: str, reason: str) -> None:
        self.result.rejected += 1
        if len(self.result.rejected_sample) < SAMPLE_SIZE:
            self.result.rejected_sample.append(RowIssue(rownum, phone, reason))
        if self._errors is not None:
            self._errors.writerow([rownum, reason, *row])

    def _warn(self, rownum: int, phone: str, reason: str) -> None:
        self.result.warnings += 1
        if len(self.result.warnings_sample) < SAMPLE_SIZE:
            self.result.warnings_sample.append(RowIssue(rownum, phone, reason))

    # --- rows → entries ---------------------------------------------------------------------
    def _parse_batch(
        self, batch: _Batch, layout: Layout, checks: list[CheckResult] | None = None
    ) -> dict[str, _Entry]:
        """Rows → entries; `checks` are the pool's results for the batch's phone cells."""
        result, held, last_row = self.result, self._held, self._last_row
        entries: dict[str, _Entry] = {}
        phone_col, known, attribute_cols = layout.phone, layout.known, layout.attributes
        typed, consents = layout.typed, bool(layout.consent or "opted_out" in known)
        check = self.checker.check
        for position, (rownum, row) in enumerate(batch):
            result.rows += 1
            width = len(row)
            raw = row[phone_col].strip() if phone_col < width else ""
            if not raw:
                if any(cell.strip() for cell in row):
                    self._reject(rownum, row, raw, "MISSING_PHONE: no phone number")
                else:
                    result.blank += 1
                continue
            if checks is None:
                try:
                    info = check(raw)
                except PhoneError as exc:
                    self._reject(rownum, row, raw, str(exc))
                    continue
            else:
                found = checks[position]
                if found[0] is None:
                    self._reject(rownum, row, raw, found[1])
                    continue
                info = PhoneInfo(*found)
            if info.warning:
                self._warn(rownum, raw, info.warning)
            values = {}
            for name, index in known.items():
                if index < width and (value := row[index].strip()):
                    values[name] = value
            attributes = {}
            for index, key in attribute_cols:
                if index < width and (value := row[index].strip()):
                    attributes[key] = value
            if typed:
                self._typed(rownum, raw, row, typed, attributes)
            self._clean(rownum, raw, values)
            new = _Entry(rownum, info.e164, info.country, info.timezone, values, attributes)
            if consents:
                self._consent(rownum, raw, row, layout, values, new)
            entry = entries.get(info.e164) or held.get(info.e164)
            if entry is not None:
                result.duplicates += 1
                self._warn(rownum, raw, f"DUPLICATE: same number as row {entry.row}; merged")
                entry.merge(new)
            else:
                entry = new
            if last_row and info.e164 not in entries:
                final = last_row.get(self._keys[rownum - 2])
                if final is not None and final != rownum:
                    held[info.e164] = entry  # more rows of this number follow in a later batch
                    continue
                held.pop(info.e164, None)
            entries[info.e164] = entry
        return entries

    def _typed(
        self,
        rownum: int,
        raw: str,
        row: list[str],
        typed: list[tuple[int, str, str, str]],
        attributes: dict[str, Any],
    ) -> None:
        """Number, date and yes/no cells, normalised; a cell that is none is left out, warned."""
        width = len(row)
        for index, key, kind, order in typed:
            if index < width and (cell := row[index].strip()):
                value, problem = cell_value(cell, Column("attribute", key, kind, order))
                if value is None:
                    column = self._header[index].strip() or key
                    self._warn(
                        rownum,
                        raw,
                        f"BAD_{kind.upper()}: {column} {cell!r} {problem}; not imported",
                    )
                else:
                    attributes[key] = value

    def _consent(
        self,
        rownum: int,
        raw: str,
        row: list[str],
        layout: Layout,
        values: dict[str, Any],
        entry: _Entry,
    ) -> None:
        """What the row's consent columns say, with the cells as evidence, on `entry`."""
        width, cells = len(row), []
        said: dict[str, bool] = {}
        opted = values.pop("opted_out", None)
        columns = list(layout.consent)
        if opted is not None:
            columns.append((-1, "all"))
        for index, channel in columns:
            cell = opted if index < 0 else (row[index].strip() if index < width else "")
            if not cell:
                continue
            target = "opted_out" if index < 0 else "consent"
            answer = consent_of(cell, target)
            name = "opted_out" if index < 0 else (self._header[index].strip() or "consent")
            if answer is None and index < 0:
                self._warn(rownum, raw, f"BAD_OPTED_OUT: {cell!r} is not yes/no; ignored")
            elif answer is None:
                self._warn(
                    rownum,
                    raw,
                    f"BAD_CONSENT: {name} {cell!r} is not yes/no, opted in or opted out; ignored",
                )
            elif target == "consent" or not answer:  # "no" in an opted_out column: nothing
                said[channel] = said.get(channel, True) and answer
                cells.append(f"{name}={cell}")
        if said:
            entry.consent = said
            entry.evidence = f"row {rownum}: {', '.join(cells)}"
            if layout.consent_date is not None:
                index, order = layout.consent_date
                cell = row[index].strip() if index < width else ""
                if cell:
                    entry.consent_at = consent_date_of(cell, order, settings.TIME_ZONE)
                    if entry.consent_at is None:
                        self._warn(
                            rownum,
                            raw,
                            f"BAD_CONSENT_DATE: {cell!r} is not a date; "
                            "the import time is recorded",
                        )

    def _clean(self, rownum: int, raw: str, values: dict[str, str]) -> None:
        """Check the known fields in place (dropping bad ones with a warning)."""
        for name in ("first_name", "last_name"):
            if len(values.get(name, "")) > _NAME_MAX:
                values[name] = values[name][:_NAME_MAX]
                self._warn(rownum, raw, f"TRUNCATED: {name} longer than {_NAME_MAX} characters")
        language = values.get("language")
        if language is not None and not _is_language(language):
            del values["language"]
            self._warn(rownum, raw, f"BAD_LANGUAGE: {language!r} is not a language code; ignored")
        tz = values.get("timezone")
        if tz is not None and tz not in _TIMEZONES:
            del values["timezone"]
            self._warn(rownum, raw, f"BAD_TIMEZONE: unknown timezone {tz!r}; ignored")

    # --- entries → database -----------------------------------------------------------------
    def _flush(self, entries: dict[str, _Entry], contact_list: ContactList | None) -> None:
        if not entries:
            return
        result = self.result
        with transaction.atomic():
            existing = fetch_existing(list(entries))
            writes: list[dict[str, Any]] = []
            consenting: list[_Entry] = []
            for entry in entries.values():
                current = existing.get(entry.phone)
                values = _merged(entry, current)
                if current is None:
                    result.created += 1
                    writes.append({"phone": entry.phone, **values})
                elif any(values[name] != current[name] for name in UPDATE_FIELDS):
                    result.updated += 1
                    writes.append({"phone": entry.phone, **values})
                else:
                    result.unchanged += 1
                if entry.consent:
                    consenting.append(entry)
                    if current and current["opted_out"] and all(entry.consent.values()):
                        self._warn(
                            entry.row,
                            entry.phone,
                            "KEPT_OPTED_OUT: the file gives "
                            "consent, but the contact opted out; an import never opts "
                            "anyone back in",
                        )
            if self.dry_run:
                for entry in consenting:
                    was_out = bool(existing.get(entry.phone, {}).get("opted_out"))
                    if not all((entry.consent or {}).values()):
                        result.opted_out += not was_out
                    elif not was_out:
                        result.consented += 1
                if self.list_name:
                    result.listed += self._count_unlisted(entries, existing, contact_list)
                return
            ids = {phone: row["id"] for phone, row in existing.items()}
            # One statement for new and changed rows; a number inserted concurrently by someone
            # else becomes an update instead of an IntegrityError.
            ids.update(upsert_contacts(writes))
            if consenting:
                self._record_consent(consenting, ids)
            if contact_list is not None:
                result.listed += add_memberships(
                    contact_list,
                    new_ids=[ids[phone] for phone in entries if phone not in existing],
                    existing_ids=[row["id"] for row in existing.values()],
                )

    def _record_consent(self, entries: list[_Entry], ids: dict[str, int]) -> None:
        """The consent columns' answers, with the file, row and cells as evidence."""
        from contacts.services import ImportedConsent, contacts_consent_import  # (a loop)

        where = f"import {self.source_name}".strip()
        rows = []
        for entry in entries:
            said = entry.consent or {}
            # A withdrawal anywhere in the row opts out (every channel); otherwise each
            # channel's consent is recorded.
            withdrawn = [(c, False) for c, v in said.items() if not v][:1]
            note = f"{where} {entry.evidence}"
            for channel, consents in withdrawn or [(c, True) for c in said]:
                rows.append(
                    ImportedConsent(ids[entry.phone], consents, channel, note, entry.consent_at)
                )
        opted_out, consented = contacts_consent_import(rows=rows, actor=self.actor)
        self.result.opted_out += opted_out
        self.result.consented += consented

    @staticmethod
    def _count_unlisted(
        entries: dict[str, _Entry],
        existing: dict[str, dict[str, Any]],
        contact_list: ContactList | None,
    ) -> int:
        if contact_list is None:  # the dry run would create it
            return len(entries)
        on_list = ListMembership.objects.filter(
            contact_list=contact_list, contact_id__in=[row["id"] for row in existing.values()]
        ).count()
        return len(entries) - on_list


def _phones(batch: list[tuple[int, list[str]]], column: int) -> list[str]:
    """The batch's phone cells, stripped ('' where a row is too short)."""
    return [row[column].strip() if column < len(row) else "" for _rownum, row in batch]


def _size(fh: BinaryIO) -> int:
    """Bytes in a seekable file, without moving its position."""
    here = fh.tell()
    try:
        return fh.seek(0, 2)
    finally:
        fh.seek(here)


def _merged(entry: _Entry, current: dict[str, Any] | None) -> dict[str, Any]:
    """The contact's values after this import: non-empty cells win, empty ones keep the old."""
    cells = entry.fields
    if current is None:
        return {
            "first_name": cells.get("first_name", ""),
            "last_name": cells.get("last_name", ""),
            "language": cells.get("language", ""),
            "timezone": cells.get("timezone") or entry.derived_tz,
            "country": entry.country,
            "attributes": entry.attributes,
        }
    return {
        "first_name": cells.get("first_name", current["first_name"]),
        "last_name": cells.get("last_name", current["last_name"]),
        "language": cells.get("language", current["language"]),
        "timezone": cells.get("timezone") or current["timezone"] or entry.derived_tz,
        "country": entry.country or current["country"],
        "attributes": {**(current["attributes"] or {}), **entry.attributes},
    }


@functools.lru_cache(maxsize=4096)  # a file repeats a handful of codes a million times
def _is_language(code: str) -> bool:
    """A BCP 47-ish language tag: `en`, `pt-BR`, `en_GB`, `zh-Hant-TW`."""
    parts = code.replace("_", "-").split("-")
    return (
        len(code) <= _LANGUAGE_MAX
        and 2 <= len(parts[0]) <= 3
        and parts[0].isascii()
        and parts[0].isalpha()
        and all(part.isascii() and part.isalnum() and 1 <= len(part) <= 8 for part in parts[1:])
    )
