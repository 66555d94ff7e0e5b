"""History that does not grow forever: a finished campaign's ledger, archived to a file.

A campaign that finished longer ago than `HERALD_HISTORY_RETENTION_DAYS` (0, the default: never)
has its ledger rows and their events written to one gzip-compressed JSON-lines file in
`HERALD_HISTORY_DIR`, then removed from the live tables; the campaign row keeps its counters,
cost and settings, so its page and reports still show what happened, and says where the
history went. `campaign_history_restore` puts the rows back from the file (same ids), and the
campaign's CSV export reads an archived campaign from its file (`history_export_rows`).

The file, one JSON document per line (RapidPro's rp-archiver is the model: a row's
`row_to_json`, gzip, a checksum recorded beside it):

    {"herald_history": 1, "campaign": {...the campaign row...}}
    {"message": {...one campaigns_message row...}}        (ledger order)
    {"event": {...one campaigns_messageevent row...}}     (after every message)
    {"end": {"messages": N, "events": M}}

The trailer is what a restore checks first: a file cut short has none. The SHA-256 of the
compressed file is stored on the campaign and checked before a restore.

Removal is one DELETE per table for the campaign (no trigger fires: nothing references ledger
rows with a database constraint). docs/DATABASE.md ("History") says why not partitions, yet.
"""

import datetime as dt
import gzip
import hashlib
import itertools
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from psycopg import sql
from psycopg.errors import SerializationFailure

from campaigns.insights import campaign_cost_by_channel
from campaigns.models import Campaign, Message, MessageEvent, SendBatch
from campaigns.people import campaign_people
from campaigns.states import CampaignState
from core.rules import Actor, actor_require, actor_user
from core.services import audit_record

FORMAT = 1
# The states a campaign never leaves: only these are archived.
FINISHED = (CampaignState.COMPLETED, CampaignState.CANCELLED, CampaignState.FAILED)
# Message counters that must be zero: a row still queued, sending or awaiting its report may
# yet change, and a report for a row no longer in the ledger would be kept as unknown.
UNSETTLED = ("count_queued", "count_sending", "count_accepted")
_FETCH = 5000  # rows per round trip of the server-side cursors

_MESSAGES = sql.Identifier(Message._meta.db_table)
_EVENTS = sql.Identifier(MessageEvent._meta.db_table)

# The campaign's rows and their events as JSON text, in ledger order (server-side cursors).
SELECT_MESSAGES = sql.SQL(
    "SELECT row_to_json(m)::text FROM {messages} m WHERE m.campaign_id = %s ORDER BY m.id"
).format(messages=_MESSAGES)
SELECT_EVENTS = sql.SQL("""
    SELECT row_to_json(e)::text FROM {events} e
    WHERE e.message_id IN (SELECT id FROM {messages} WHERE campaign_id = %s)
    ORDER BY e.message_id, e.id
""").format(events=_EVENTS, messages=_MESSAGES)
# Removal: the events (no constraint to the ledger), then the rows. Clicks keep their campaign,
# URL and the row's id (no constraint either): the click figures stay, and a restore relinks.
DELETE_EVENTS = sql.SQL(
    "DELETE FROM {events} WHERE message_id IN (SELECT id FROM {messages} WHERE campaign_id = %s)"
).format(events=_EVENTS, messages=_MESSAGES)
DELETE_MESSAGES = sql.SQL("DELETE FROM {messages} WHERE campaign_id = %s").format(
    messages=_MESSAGES
)
# Restore: the file's JSON records into the tables through their own row types (every column,
# the ids kept), staged with COPY so that a million rows are one statement.
CREATE_STAGE = sql.SQL("CREATE TEMP TABLE {stage} (doc jsonb) ON COMMIT DROP")
# (Lateral, not `(jsonb_populate_record(...)).*`, which calls the function once per column.)
INSERT_FROM_STAGE = sql.SQL(
    "INSERT INTO {table} SELECT r.* FROM {stage}, jsonb_populate_record(NULL::{table}, doc) r"
)


class HistoryError(Exception):
    """The history of this campaign cannot be archived or restored now; the message says why."""


@dataclass
class HistoryResult:
    """What an archive or a restore did (or, dry, would do)."""

    campaign_id: int
    name: str
    path: str
    messages: int = 0
    events: int = 0
    bytes: int = 0
    sha256: str = ""
    seconds: float = 0.0
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def history_retention() -> dt.timedelta | None:
    """How long a finished campaign keeps its ledger live (None: archiving is off)."""
    days = settings.HERALD_HISTORY_RETENTION_DAYS
    return dt.timedelta(days=days) if days > 0 else None


def campaigns_history_due(*, now: dt.datetime, older_than: dt.timedelta) -> QuerySet[Campaign]:
    """Finished campaigns whose ledger is still live and that finished before `now - older_than`."""
    return Campaign.objects.filter(
        state__in=FINISHED,
        finished_at__lte=now - older_than,
        history_archived_at__isnull=True,
        open_ended=False,
        **{name: 0 for name in UNSETTLED},
    ).order_by("finished_at", "id")


def history_path(campaign: Campaign) -> Path:
    """Where the campaign's history file goes."""
    return Path(settings.HERALD_HISTORY_DIR) / f"campaign-{campaign.pk}.jsonl.gz"


def campaign_history_archive(
    *, campaign: Campaign, actor: Actor, dry_run: bool = False
) -> HistoryResult:
    """Write a finished campaign's ledger and events to a file, then remove them from the tables."""
    actor_require(actor, "campaigns.change_campaign", doing="archive campaign history")
    start = time.perf_counter()
    current = Campaign.objects.get(pk=campaign.pk)
    _check_archivable(current)
    path = history_path(current)
    result = HistoryResult(current.pk, current.name, str(path), dry_run=dry_run)
    if dry_run:
        result.messages = Message.objects.filter(campaign_id=current.pk).count()
        result.events = MessageEvent.objects.filter(message__campaign_id=current.pk).count()
        return result
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    outermost = not connection.in_atomic_block
    try:
        _archive(
            locked_pk=current.pk,
            path=path,
            partial=partial,
            result=result,
            actor=actor,
            repeatable=outermost,
        )
    except OperationalError as exc:
        if not isinstance(exc.__cause__, SerializationFailure):
            raise
        # A row changed after the snapshot the file was written from: nothing was removed.
        raise HistoryError(
            f"campaign {current.pk}'s rows changed while archiving: nothing archived, try again"
        ) from exc
    finally:
        partial.unlink(missing_ok=True)  # a failed archive leaves no half-written file
    result.seconds = round(time.perf_counter() - start, 2)
    return result


def _archive(
    *,
    locked_pk: int,
    path: Path,
    partial: Path,
    result: HistoryResult,
    actor: Actor,
    repeatable: bool,
) -> None:
    """The file, the removal and the campaign's record of it, in one transaction."""
    with transaction.atomic():
        # One snapshot for the file and the removal (REPEATABLE READ): a row that changed after
        # it was written to the file (a late seen receipt) makes the DELETE fail, and the sweep
        # tries again later, instead of removing what the file does not hold. Inside a caller's
        # transaction (tests) the level is the caller's. The campaign row, locked, keeps a
        # second archive or a restore out.
        if repeatable:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        locked = Campaign.objects.select_for_update().get(pk=locked_pk)
        _check_archivable(locked)
        figures = _figures(locked)
        _write(locked, partial, result)
        with connection.cursor() as cursor:
            cursor.execute(DELETE_EVENTS, [locked.pk])
            if cursor.rowcount != result.events:
                raise HistoryError(f"{cursor.rowcount} events to remove, {result.events} archived")
            cursor.execute(DELETE_MESSAGES, [locked.pk])
            if cursor.rowcount != result.messages:
                raise HistoryError(f"{cursor.rowcount} rows to remove, {result.messages} archived")
        SendBatch.objects.filter(campaign_id=locked.pk).delete()
        partial.rename(path)
        _sync_dir(path.parent)
        Campaign.objects.filter(pk=locked.pk).update(
            history_archived_at=timezone.now(),
            history_archive=str(path),
            history_archive_sha256=result.sha256,
            history_archive_messages=result.messages,
            history_archive_events=result.events,
            history_figures=figures,
        )
        audit_record(
            actor=actor,
            action="history archive",
            campaign=locked,
            detail=f"{result.messages} messages, {result.events} events to {path}",
        )


def _sync_dir(directory: Path) -> None:
    """The rename is durable before the rows' removal commits."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def campaign_history_archive_later(*, campaign: Campaign, actor: Actor) -> None:
    """Check now (a clear refusal), archive in a worker (a large ledger outlasts a request)."""
    from campaigns.tasks import history_archive_one

    actor_require(actor, "campaigns.change_campaign", doing="archive campaign history")
    _check_archivable(Campaign.objects.get(pk=campaign.pk))
    user = actor_user(actor)
    transaction.on_commit(lambda: history_archive_one.delay(campaign.pk, user.pk if user else None))


def campaign_history_restore_later(*, campaign: Campaign, actor: Actor) -> None:
    """Check now, restore in a worker."""
    from campaigns.tasks import history_restore_one

    actor_require(actor, "campaigns.change_campaign", doing="restore campaign history")
    if not Campaign.objects.filter(pk=campaign.pk, history_archived_at__isnull=False).exists():
        raise HistoryError(f"campaign {campaign.pk}'s history is not archived")
    user = actor_user(actor)
    transaction.on_commit(lambda: history_restore_one.delay(campaign.pk, user.pk if user else None))


def _figures(campaign: Campaign) -> dict[str, Any]:
    """What the pages and the status read from the ledger rather than the counters, kept."""
    return {
        "people": campaign_people(campaign=campaign).as_dict(),
        "cost_by_channel": campaign_cost_by_channel(campaign_id=campaign.pk),
    }


def _check_archivable(campaign: Campaign) -> None:
    if campaign.history_archived_at is not None:
        raise HistoryError(f"campaign {campaign.pk}'s history is already archived")
    if campaign.state not in FINISHED or campaign.open_ended:
        raise HistoryError(
            f"campaign {campaign.pk} is {campaign.get_state_display().lower()}: only completed, "
            "cancelled or failed campaigns are archived"
        )
    unsettled = sum(getattr(campaign, name) for name in UNSETTLED)
    if unsettled:
        raise HistoryError(
            f"campaign {campaign.pk} still has {unsettled} messages queued, sending or awaiting "
            "a report"
        )


class _Hashing:
    """A binary file that hashes what is written to it (the compressed bytes)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.sha = raw, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def _write(campaign: Campaign, partial: Path, result: HistoryResult) -> None:
    """The history file under a temporary name (renamed once the rows are removed), synced."""
    header = {"herald_history": FORMAT, "campaign": _campaign_doc(campaign)}
    with open(partial, "wb") as raw:
        hashing = _Hashing(raw)
        # Level 1: the archive is written once and read rarely; level 6 took ~3x the CPU for
        # ~15 % less size on ledger rows.
        with gzip.GzipFile(fileobj=hashing, mode="wb", compresslevel=1, mtime=0) as gz:
            gz.write(_line(header))
            result.messages = _copy_out(gz, "message", SELECT_MESSAGES, campaign.pk)
            result.events = _copy_out(gz, "event", SELECT_EVENTS, campaign.pk)
            gz.write(_line({"end": {"messages": result.messages, "events": result.events}}))
        raw.flush()
        os.fsync(raw.fileno())
    result.bytes = partial.stat().st_size
    result.sha256 = hashing.sha.hexdigest()


def _line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, default=str, separators=(",", ":")).encode() + b"\n"


def _campaign_doc(campaign: Campaign) -> dict[str, Any]:
    return {
        field.attname: getattr(campaign, field.attname) for field in Campaign._meta.concrete_fields
    }


def _copy_out(gz: gzip.GzipFile, kind: str, statement: sql.Composed, campaign_id: int) -> int:
    """Stream one SELECT of JSON rows into the file as `{"kind": row}` lines; how many."""
    prefix, suffix = f'{{"{kind}":'.encode(), b"}\n"
    count = 0
    raw = connection.connection
    with raw.cursor(name=f"history_{kind}") as cursor:  # server-side: flat memory
        cursor.itersize = _FETCH
        cursor.execute(statement, [campaign_id])
        while rows := cursor.fetchmany(_FETCH):
            gz.write(b"".join(prefix + doc.encode() + suffix for (doc,) in rows))
            count += len(rows)
    return count


def history_read(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The records of a history file in order, as (kind, document), the trailer checked."""
    ended = False
    with gzip.open(path, "rb") as fh:
        for raw in fh:
            doc = json.loads(raw, parse_float=Decimal)  # prices keep their exact digits
            if "herald_history" in doc:
                if doc["herald_history"] != FORMAT:
                    raise HistoryError(f"{path}: unknown history format {doc['herald_history']}")
                yield "campaign", doc["campaign"]
            elif "end" in doc:
                ended = True
                yield "end", doc["end"]
            else:
                ((kind, row),) = doc.items()
                yield kind, row
    if not ended:
        raise HistoryError(f"{path} is cut short (no end record)")


def history_export_rows(campaign: Campaign) -> Iterator[dict[str, Any]]:
    """An archived campaign's ledger rows from its history file, in ledger order."""
    if not campaign.history_archive:
        raise HistoryError(f"campaign {campaign.pk}'s history is not archived")
    for kind, row in history_read(campaign.history_archive):
        if kind == "message":
            yield row


def history_first_texts(campaign: Campaign, limit: int) -> list[str]:
    """The texts of an archived campaign's first `limit` rows (its page's message bubble);
    empty when the file cannot be read (the page still shows, with the text as written)."""
    texts = []
    try:
        with gzip.open(campaign.history_archive, "rb") as fh:
            for line in fh:
                if line.startswith(b'{"message":'):
                    texts.append(json.loads(line)["message"].get("text") or "")
                    if len(texts) >= limit:
                        break
                elif line.startswith(b'{"event":'):
                    break
    except (OSError, ValueError):
        return []
    return texts


def campaign_history_restore(*, campaign: Campaign, actor: Actor) -> HistoryResult:
    """Put an archived campaign's ledger and events back from its file (same ids), checked."""
    actor_require(actor, "campaigns.change_campaign", doing="restore campaign history")
    start = time.perf_counter()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.history_archived_at is None:
            raise HistoryError(f"campaign {locked.pk}'s history is not archived")
        path = Path(locked.history_archive)
        result = HistoryResult(locked.pk, locked.name, str(path))
        if not path.exists():
            raise HistoryError(f"{path} is missing: the history cannot be restored")
        digest = _sha256(path)
        if digest != locked.history_archive_sha256:
            raise HistoryError(f"{path} does not match its checksum: not restored")
        if Message.objects.filter(campaign_id=locked.pk).exists():
            raise HistoryError(f"campaign {locked.pk} already has ledger rows: not restored")
        result.messages, result.events = _copy_in(path)
        if (result.messages, result.events) != (
            locked.history_archive_messages,
            locked.history_archive_events,
        ):
            raise HistoryError(f"{path} holds other counts than were archived: not restored")
        Campaign.objects.filter(pk=locked.pk).update(
            history_archived_at=None,
            history_archive="",
            history_archive_sha256="",
            history_archive_messages=0,
            history_archive_events=0,
            history_figures={},
        )
        audit_record(
            actor=actor,
            action="history restore",
            campaign=locked,
            detail=f"{result.messages} messages, {result.events} events from {path}",
        )
    result.bytes, result.sha256 = path.stat().st_size, digest
    result.seconds = round(time.perf_counter() - start, 2)
    return result


def history_checksum_ok(campaign: Campaign) -> bool:
    """Whether the campaign's history file is the one archived (its SHA-256 as recorded)."""
    path = Path(campaign.history_archive)
    return path.exists() and _sha256(path) == campaign.history_archive_sha256


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def _copy_in(path: Path) -> tuple[int, int]:
    """COPY the file's messages, then its events, through staging tables, in one pass over the
    file; (messages, events). The rows go in as the JSON text `row_to_json` wrote (not parsed
    and re-encoded here: a price keeps its digits, and a million rows cost no Python objects)."""
    counts = {"message": 0, "event": 0}
    prefixes = {kind: f'{{"{kind}":'.encode() for kind in counts}
    with gzip.open(path, "rb") as fh, connection.cursor() as cursor:
        lines = iter(fh)
        pending: list[bytes] = []  # the first event line, read while copying messages
        for kind, table in (("message", _MESSAGES), ("event", _EVENTS)):
            stage = sql.Identifier(f"history_stage_{kind}")
            cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
            cursor.execute(CREATE_STAGE.format(stage=stage))
            prefix = prefixes[kind]
            with cursor.cursor.copy(sql.SQL("COPY {} (doc) FROM STDIN").format(stage)) as copy:
                # The file's order: the header, every message, every event, the end.
                for line in itertools.chain(pending, lines):
                    if line.startswith(prefix) and line.endswith(b"}\n"):
                        copy.write_row((line[len(prefix) : -2].decode(),))
                        counts[kind] += 1
                    elif kind == "message" and line.startswith(prefixes["event"]):
                        pending = [line]
                        break
                    elif not line.startswith((b'{"herald_history":', b'{"end":')):
                        raise HistoryError(f"{path}: unexpected record {line[:40]!r}")
            cursor.execute(INSERT_FROM_STAGE.format(table=table, stage=stage))
    return counts["message"], counts["event"]


def history_contact_erase(*, contact_id: int, erased: str) -> dict[str, int]:
    """Erase a contact from the archived history files that hold them (campaigns/erasure.py):
    their rows lose the number, the text and the link to the contact, as in the live ledger,
    and so do the clicks on those rows. Each file that names the contact is rewritten and its
    checksum replaced; the others are only read."""
    from infobip.models import Click

    named = re.compile(rb'"contact_id":%d[,}]' % contact_id)
    done = {"archived_rows": 0, "archived_campaigns": 0}
    archived = Campaign.objects.filter(history_archived_at__isnull=False).order_by("id")
    # Every file read before any is rewritten: a missing one refuses the erasure unchanged.
    naming = [c for c in archived if _names(Path(c.history_archive), named)]
    for campaign in naming:
        path = Path(campaign.history_archive)
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.history_archived_at is None:  # restored meanwhile: the live rows were erased
            continue
        ids, sha256 = _erase_in_file(path, named, erased)
        Campaign.objects.filter(pk=locked.pk).update(history_archive_sha256=sha256)
        Click.objects.filter(message_id__in=ids).update(
            recipient=erased, url=erased, raw={}, city="", device_name=""
        )
        done["archived_rows"] += len(ids)
        done["archived_campaigns"] += 1
    return done


def history_contact_rows(
    *, contact_id: int
) -> tuple[list[tuple[Campaign, dict[str, Any]]], list[int]]:
    """A contact's ledger rows in archived history files, with their campaign (a person's
    evidence, campaigns/erasure.py); and the campaigns whose file is missing."""
    named = re.compile(rb'"contact_id":%d[,}]' % contact_id)
    found: list[tuple[Campaign, dict[str, Any]]] = []
    missing: list[int] = []
    for campaign in Campaign.objects.filter(history_archived_at__isnull=False).order_by("id"):
        path = Path(campaign.history_archive)
        if not path.exists():
            missing.append(campaign.pk)
            continue
        with gzip.open(path, "rb") as fh:
            for line in fh:
                if line.startswith(b'{"message":') and named.search(line):
                    found.append((campaign, json.loads(line)["message"]))
    return found, missing


def _names(path: Path, named: re.Pattern[bytes]) -> bool:
    """Whether a history file has a row of the contact (a missing file cannot be erased: said)."""
    if not path.exists():
        raise HistoryError(f"{path} is missing: a contact in it cannot be erased")
    with gzip.open(path, "rb") as fh:
        return any(named.search(line) for line in fh if line.startswith(b'{"message":'))


def _erase_in_file(path: Path, named: re.Pattern[bytes], erased: str) -> tuple[list[int], str]:
    """Rewrite the file with the contact's rows anonymised; (their ids, the new SHA-256)."""
    ids: list[int] = []
    partial = path.with_suffix(".erasing")
    try:
        with open(partial, "wb") as raw:
            hashing = _Hashing(raw)
            with (
                gzip.open(path, "rb") as old,
                gzip.GzipFile(fileobj=hashing, mode="wb", compresslevel=1, mtime=0) as new,
            ):
                for line in old:
                    if line.startswith(b'{"message":') and named.search(line):
                        row = json.loads(line, parse_float=Decimal)["message"]
                        row.update(phone=erased, text=erased, template_values=None, contact_id=None)
                        ids.append(row["id"])
                        line = _line({"message": row})
                    new.write(line)
            raw.flush()
            os.fsync(raw.fileno())
        partial.rename(path)
        _sync_dir(path.parent)
    finally:
        partial.unlink(missing_ok=True)
    return ids, hashing.sha.hexdigest()


def history_archive_due(*, now: dt.datetime | None = None, limit: int = 10) -> list[HistoryResult]:
    """Beat: archive the finished campaigns past the retention period (nothing when it is off)."""
    from core.rules import SYSTEM

    older_than = history_retention()
    if older_than is None:
        return []
    done = []
    for campaign in campaigns_history_due(now=now or timezone.now(), older_than=older_than)[:limit]:
        try:
            done.append(campaign_history_archive(campaign=campaign, actor=SYSTEM))
        except HistoryError:
            continue  # changed meanwhile (a report, a restore): the next sweep sees it again
    return done


def history_summary(result: HistoryResult, verb: str) -> str:
    """One line for an operator."""
    what = f"{result.messages:,} messages and {result.events:,} events"
    if result.dry_run:
        return (
            f"campaign {result.campaign_id} “{result.name}”: would archive {what} to {result.path}"
        )
    size = f", {result.bytes / 1e6:.1f} MB" if result.bytes else ""
    return (
        f"campaign {result.campaign_id} “{result.name}”: {verb} {what} "
        f"({result.path}{size}, {result.seconds:.1f} s)"
    )
