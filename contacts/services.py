"""Contact services: consent (opt-out / opt-in), list membership, import and export.

Consent history policy: an event is recorded only when the state changes. A STOP from someone
already opted out (or an import row saying so) leaves the history as it was, so the history
reads as the sequence of real changes; every change is recorded, with its source, channel and
the acting user when there is one. Opt-out is global (every channel); `channel` says where the
request came from.
"""

import contextlib
import datetime as dt
import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from psycopg import sql

from contacts import signals
from contacts.attributes import (
    DATE_PATTERN,
    FALSE_WORDS,
    KEY_RE,
    NUMBER_PATTERN,
    TRUE_WORDS,
    AttributeType,
)
from contacts.bulk import add_memberships
from contacts.importer import BATCH_SIZE, ContactImporter, ImportResult
from contacts.mapping import Column, mapping_json, mapping_suggest
from contacts.models import (
    AttributeDefinition,
    ConsentAction,
    ConsentChannel,
    ConsentEvent,
    ConsentSource,
    Contact,
    ContactList,
    ListMembership,
    RevocationReview,
)
from core.csvsafe import csv_writer
from core.rules import Actor, Refused, actor_require, actor_user
from core.services import audit_record

CHUNK = 1000
# The contact's own fields, which placeholders and rules name directly (not attributes).
CONTACT_KEYS = frozenset({"phone", "first_name", "last_name", "language", "timezone", "country"})


def _chunks(ids: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    iterator = iter(ids)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _change_consent(
    *,
    contact_ids: Iterable[int],
    action: ConsentAction,
    source: str,
    channel: str,
    note: str,
    actor: Actor | None,
    notes: Mapping[int, str] | None = None,
    occurred: Mapping[int, dt.datetime] | None = None,
) -> list[int]:
    """Change the contacts' state and record one event each that changed; `notes` and
    `occurred` give some contacts their own note and time (an import's rows)."""
    source, channel = ConsentSource(source).value, ConsentChannel(channel).value
    notes, occurred = notes or {}, occurred or {}
    opting_out = action == ConsentAction.OPT_OUT
    changed: list[int] = []
    for chunk in _chunks(contact_ids):
        with transaction.atomic():
            # Lock the rows whose state will change, so two concurrent requests record one event.
            ids = list(
                Contact.objects.select_for_update()
                .filter(id__in=chunk, opted_out=not opting_out)
                .order_by("id")
                .values_list("id", flat=True)
            )
            if not ids:
                continue
            now = timezone.now()
            Contact.objects.filter(id__in=ids).update(
                opted_out=opting_out,
                opted_out_at=now if opting_out else None,
                opted_out_source=source if opting_out else "",
                opted_out_channel=channel if opting_out else "",
                updated_at=now,
            )
            ConsentEvent.objects.bulk_create(
                ConsentEvent(
                    contact_id=contact_id,
                    action=action,
                    source=source,
                    channel=channel,
                    note=notes.get(contact_id, note)[:500],
                    actor=actor_user(actor),
                    occurred_at=occurred.get(contact_id),
                )
                for contact_id in ids
            )
            changed.extend(ids)
            (signals.contacts_opted_out if opting_out else signals.contacts_opted_in).send(
                Contact, contact_ids=ids, source=source, channel=channel
            )
    return changed


def contacts_opt_out(
    *,
    contact_ids: Iterable[int],
    source: str,
    channel: str = ConsentChannel.ALL,
    note: str = "",
    actor: Actor | None = None,
    notes: Mapping[int, str] | None = None,
    occurred: Mapping[int, dt.datetime] | None = None,
) -> int:
    """Opt out the given contacts (one event each that changed); returns how many changed."""
    return len(
        _change_consent(
            contact_ids=contact_ids,
            action=ConsentAction.OPT_OUT,
            source=source,
            channel=channel,
            note=note,
            actor=actor,
            notes=notes,
            occurred=occurred,
        )
    )


def contacts_opt_in(
    *,
    contact_ids: Iterable[int],
    source: str,
    channel: str = ConsentChannel.ALL,
    note: str = "",
    actor: Actor | None = None,
) -> int:
    """Opt the given contacts back in (one event each that changed); returns how many changed."""
    return len(
        _change_consent(
            contact_ids=contact_ids,
            action=ConsentAction.OPT_IN,
            source=source,
            channel=channel,
            note=note,
            actor=actor,
        )
    )


def contact_opt_out(
    *,
    contact: Contact,
    source: str,
    channel: str = ConsentChannel.ALL,
    note: str = "",
    actor: Actor | None = None,
) -> bool:
    """Opt `contact` out of every channel; idempotent, returns whether the state changed."""
    changed = bool(
        contacts_opt_out(
            contact_ids=[contact.pk], source=source, channel=channel, note=note, actor=actor
        )
    )
    contact.refresh_from_db(
        fields=["opted_out", "opted_out_at", "opted_out_source", "opted_out_channel", "updated_at"]
    )
    return changed


def contact_opt_in(
    *,
    contact: Contact,
    source: str,
    channel: str = ConsentChannel.ALL,
    note: str = "",
    actor: Actor | None = None,
) -> bool:
    """Opt `contact` back in; idempotent, returns whether the state changed."""
    changed = bool(
        contacts_opt_in(
            contact_ids=[contact.pk], source=source, channel=channel, note=note, actor=actor
        )
    )
    contact.refresh_from_db(
        fields=["opted_out", "opted_out_at", "opted_out_source", "opted_out_channel", "updated_at"]
    )
    return changed


@dataclass(frozen=True)
class ImportedConsent:
    """What one imported row says about a contact's consent, and where it says it."""

    contact_id: int
    consents: bool  # True: gave consent; False: withdrew it
    channel: str  # all, sms or whatsapp
    note: str  # the evidence: file, row, column and cell
    occurred_at: dt.datetime | None = None  # the row's consent date, when the file has one


# Consent given, recorded as an opt-in event for the contacts of the batch that are not opted
# out and have no opt-in on that channel (or every channel) since their last opt-out: a second
# import of the same file records nothing. One statement for the batch.
_RECORD_CONSENTS = sql.SQL(
    "INSERT INTO {events} (contact_id, action, source, channel, note, wording, actor_id, "
    "created_at, occurred_at) "
    "SELECT r.contact_id, 'opt_in', 'import', {channel}, r.note, '', {actor}, now(), r.occurred_at "
    "FROM unnest({ids}::bigint[], {notes}::text[], {dates}::timestamptz[]) "
    "AS r(contact_id, note, occurred_at) "
    "JOIN {contacts} c ON c.id = r.contact_id AND NOT c.opted_out "
    "WHERE NOT EXISTS (SELECT 1 FROM {events} e WHERE e.contact_id = r.contact_id "
    "AND e.action = 'opt_in' AND e.channel IN ({channel}, 'all') "
    "AND e.created_at > coalesce((SELECT max(o.created_at) FROM {events} o "
    "WHERE o.contact_id = r.contact_id AND o.action = 'opt_out'), '-infinity'))"
)


def contacts_consent_import(
    *, rows: Iterable[ImportedConsent], actor: Any = None
) -> tuple[int, int]:
    """Honour an import's consent columns: a withdrawal opts the contact out (of every channel,
    as every opt-out), a consent is recorded as opt-in evidence on its channel — never for a
    contact who is opted out (an import does not undo a STOP). → (opted out, consents recorded).
    """
    user = actor_user(actor) if actor is not None else None
    user_id = user.pk if user is not None and user.pk else None
    withdrawals: dict[str, list[ImportedConsent]] = {}
    consents: dict[str, list[ImportedConsent]] = {}
    for row in rows:
        (consents if row.consents else withdrawals).setdefault(row.channel, []).append(row)
    opted_out = 0
    for channel, group in withdrawals.items():
        opted_out += contacts_opt_out(
            contact_ids=[r.contact_id for r in group],
            source=ConsentSource.IMPORT,
            channel=channel,
            actor=user,
            notes={r.contact_id: r.note for r in group},
            occurred={r.contact_id: r.occurred_at for r in group if r.occurred_at},
        )
    recorded = 0
    for channel, group in consents.items():
        statement = _RECORD_CONSENTS.format(
            events=sql.Identifier(ConsentEvent._meta.db_table),
            contacts=sql.Identifier(Contact._meta.db_table),
            channel=sql.Literal(ConsentChannel(channel).value),
            actor=sql.Literal(user_id),
            ids=sql.Placeholder(),
            notes=sql.Placeholder(),
            dates=sql.Placeholder(),
        )
        params: list[list[int] | list[str] | list[dt.datetime | None]] = [
            [r.contact_id for r in group],
            [r.note[:500] for r in group],
            [r.occurred_at for r in group],
        ]
        with connection.cursor() as cursor:
            cursor.execute(statement.as_string(None), params)
            recorded += cursor.rowcount
    return opted_out, recorded


class ReplyRefused(Refused):
    """A manual reply the consent rules refuse (an opted-out contact, no transactional answer)."""


TRANSACTIONAL_CONFIRMATION = "transactional"


def contact_reply_authorize(
    *, contact: Contact, actor: Actor | Any, channel: str, transactional: bool = False
) -> bool:
    """Refuse a person's reply to an opted-out contact unless it is confirmed as transactional.

    Answers whether the reply goes as a transactional answer (an audit entry records who
    confirmed it, to whom and on which channel). Every manual reply surface asks this: the
    inbox's conversation and quick reply, `whatsapp_reply` on the command line.
    """
    if not contact.opted_out:
        return False
    if not transactional:
        since = f" on {contact.opted_out_at:%Y-%m-%d}" if contact.opted_out_at else ""
        how = f" ({contact.opted_out_source.replace('_', ' ')})" if contact.opted_out_source else ""
        raise ReplyRefused(
            f"{contact.phone} opted out{since}{how}: a marketing reply is not allowed. "
            "Only an answer to something they asked (an order, an appointment, their account) "
            "may go, confirmed as a transactional answer",
            missing=TRANSACTIONAL_CONFIRMATION,
        )
    audit_record(
        actor=actor,
        action="reply_transactional",
        contact=contact,
        detail=f"{channel} reply to an opted-out contact, confirmed as a transactional answer",
    )
    return True


def contact_list_add(*, contact_list: ContactList, contact_ids: Iterable[int]) -> int:
    """Put the given contacts on `contact_list`; returns how many were not on it yet."""
    added = 0
    for chunk in _chunks(contact_ids):
        with transaction.atomic():
            added += add_memberships(contact_list, new_ids=[], existing_ids=list(set(chunk)))
    return added


def contact_list_remove(*, contact_list: ContactList, contact_ids: Iterable[int]) -> int:
    """Take the given contacts off `contact_list`; returns how many were on it."""
    removed = 0
    for chunk in _chunks(contact_ids):
        removed += ListMembership.objects.filter(
            contact_list=contact_list, contact_id__in=chunk
        ).delete()[0]
        signals.contacts_changed.send(Contact, contact_ids=chunk)
    return removed


def contacts_import(
    *,
    source: str | Path | BinaryIO,
    list_name: str | None = None,
    default_region: str | None = None,
    dry_run: bool = False,
    errors_path: str | None = None,
    allow_sequential: bool = False,
    progress: Callable[[int, int], None] | None = None,
    source_name: str = "",
    batch_size: int | None = None,
    workers: int = 0,
    actor: Any = None,
    columns: list[Column] | None = None,
    imported_by: Any = None,
) -> ImportResult:
    """Import contacts from a CSV file (path or binary file object); see contacts.importer.

    With an `actor` (the command line, the API) the add permission is checked first and the
    import is audited; the UI's import job checks and audits when the upload is made, and
    passes its user as `imported_by`. Either is recorded on the consent events as who imported.
    `columns` is the column mapping (contacts/mapping.py; None: the suggestion for the header).
    `workers` processes check the numbers of pass 2 (contacts.checkpool; the command line's).
    """
    if list_name and (problem := list_name_problem(list_name.strip())):
        raise ValidationError({"list": problem})
    if actor is not None:
        actor_require(actor, "contacts.add_contact", doing="import contacts")
        if list_name:
            actor_require(actor, "contacts.add_contactlist", doing="import into lists")
    result = ContactImporter(
        list_name=list_name,
        default_region=default_region,
        dry_run=dry_run,
        errors_path=errors_path,
        allow_sequential=allow_sequential,
        progress=progress,
        source_name=source_name,
        batch_size=batch_size or BATCH_SIZE,
        workers=workers,
        columns=columns,
        actor=actor if actor is not None else imported_by,
    ).run(source)
    if actor is not None and not dry_run:
        name = source_name or (source if isinstance(source, (str, os.PathLike)) else "a file")
        audit_record(actor=actor, action="import", detail=f"{os.fspath(name)}: {result.summary()}")
    return result


@dataclass(frozen=True)
class ImportPreview:
    """A file as the mapping step shows it: how it is read, a sample, a suggested mapping."""

    encoding: str
    delimiter: str
    header: list[str]
    sample: list[list[str]]
    columns: list[Column]

    def as_dict(self) -> dict[str, Any]:
        return {
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "header": self.header,
            "sample": self.sample,
            **mapping_json(self.columns),
        }


def contacts_import_preview(
    *, source: str | os.PathLike[str] | BinaryIO, default_region: str | None = None, rows: int = 5
) -> ImportPreview:
    """The file's encoding, delimiter, header, first `rows` rows and a suggested mapping (the
    header's words, declared attribute types, the cells); ImportFileError for a bad file."""
    from contacts import csvfile

    with contextlib.ExitStack() as files:
        raw = files.enter_context(csvfile.open_source(source))
        encoding = csvfile.detect_encoding(raw)
        fh = files.enter_context(csvfile.utf8_source(raw, encoding))
        csvfile.check_bytes(fh)
        delimiter, header = csvfile.read_header(fh)
        sample = csvfile.read_sample(fh, delimiter, max(rows, 20))
    columns = mapping_suggest(header, sample, declared=attribute_types(), region=default_region)
    return ImportPreview(encoding, delimiter, header, sample[:rows], columns)


EXPORT_FIELDS = ["phone", "first_name", "last_name", "language", "timezone", "country"]
CONSENT_FIELDS = ["opted_out", "opted_out_at", "opted_out_source", "opted_out_channel"]
EXPORT_EXTRA = ["lists", "created_at", "updated_at"]


def contacts_export_rows(*, queryset: QuerySet[Contact] | None = None) -> Iterator[list[str]]:
    """CSV rows of contacts, header first: fields, consent, lists, one column per attribute.

    The file re-imports cleanly: consent and list columns are ignored by the importer (an
    import never opts anyone back in), attributes come back as attributes. Streams: two passes
    over the queryset in chunks (attribute keys first, so every row has the same columns).
    """
    queryset = (Contact.objects.all() if queryset is None else queryset).order_by("pk")
    keys: set[str] = set()
    for attributes in queryset.values_list("attributes", flat=True).iterator(chunk_size=5000):
        keys.update(attributes or {})
    attribute_keys = sorted(keys - {*EXPORT_FIELDS, *CONSENT_FIELDS, *EXPORT_EXTRA})
    yield [*EXPORT_FIELDS, *CONSENT_FIELDS, *EXPORT_EXTRA, *attribute_keys]
    for contact in queryset.prefetch_related("lists").iterator(chunk_size=2000):
        yield [
            contact.phone,
            *(_cell(getattr(contact, name)) for name in EXPORT_FIELDS[1:]),
            "true" if contact.opted_out else "false",
            contact.opted_out_at.isoformat() if contact.opted_out_at else "",
            contact.opted_out_source,
            contact.opted_out_channel,
            _cell("|".join(sorted(contact_list.name for contact_list in contact.lists.all()))),
            contact.created_at.isoformat(),
            contact.updated_at.isoformat(),
            *(_cell(contact.attributes.get(key)) for key in attribute_keys),
        ]


def contacts_export(*, out: IO[str], queryset: QuerySet[Contact] | None = None) -> int:
    """Write contacts as CSV to `out` (see contacts_export_rows); returns the number of contacts."""
    writer = csv_writer(out)
    rows = -1  # the header is not a contact
    for row in contacts_export_rows(queryset=queryset):
        writer.writerow(row)
        rows += 1
    return rows


def _cell(value: object) -> str:
    """A text cell (JSON for non-text attributes); core.csvsafe's writer defuses formulas."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


# Inbound messages and API sends name people by number: unknown numbers become contacts.
def contacts_for_numbers(numbers: Iterable[str]) -> dict[str, int]:
    """Contact ids by E.164 number; contacts that do not exist yet are created."""
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    found = dict(Contact.objects.filter(phone__in=wanted).values_list("phone", "id"))
    missing = [n for n in wanted if n not in found]
    if missing:
        Contact.objects.bulk_create(
            [Contact(phone=n, country=_region(n)) for n in missing], ignore_conflicts=True
        )
        created = dict(Contact.objects.filter(phone__in=missing).values_list("phone", "id"))
        found.update(created)
        signals.contacts_changed.send(Contact, contact_ids=sorted(created.values()))
    return found


def _region(number: str) -> str:
    region = phonenumbers.region_code_for_number(phonenumbers.parse(number))
    return region if region and len(region) == 2 else ""


# --- Editing contacts and lists from the browser (#16) ---------------------------------------
# Kept at the end of the module so parallel work on the services above merges cleanly. Errors
# are ValidationError with a message per field, so a form can show each next to its field.

CONTACT_TEXT_FIELDS = {"first_name": 150, "last_name": 150, "language": 20}
# Campaigns that may still send: a list they use cannot be deleted from under them.
LIVE_CAMPAIGN_STATES = ("draft", "scheduled", "running", "paused")


def _contact_fields(
    *, phone: str, default_region: str, timezone_name: str, texts: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validated contact fields from a form, and the problems by field name."""
    from zoneinfo import available_timezones

    from contacts.phones import PhoneChecker, PhoneError

    problems: dict[str, str] = {}
    fields: dict[str, Any] = {}
    try:
        info = PhoneChecker(default_region.strip() or None).check(phone.strip())
    except ValueError as exc:  # PhoneError, or an unknown default region
        problems["phone" if isinstance(exc, PhoneError) else "default_region"] = str(exc)
    else:
        fields |= {"phone": info.e164, "country": info.country}
        if not timezone_name.strip():
            fields["timezone"] = info.timezone
    for name, limit in CONTACT_TEXT_FIELDS.items():
        value = texts.get(name, "").strip()
        if len(value) > limit:
            problems[name] = f"at most {limit} characters ({len(value)} given)"
        fields[name] = value
    zone = timezone_name.strip()
    if zone:
        if zone not in available_timezones():
            problems["timezone"] = f"{zone[:64]!r} is not a time zone (e.g. Europe/London)"
        fields["timezone"] = zone
    return fields, problems


@transaction.atomic
def contact_create(
    *,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    language: str = "",
    timezone_name: str = "",
    default_region: str = "",
    lists: Iterable[ContactList] = (),
) -> Contact:
    """Add one contact (number normalised to E.164); refuses a number already in Herald."""
    from django.core.exceptions import ValidationError

    texts = {"first_name": first_name, "last_name": last_name, "language": language}
    fields, problems = _contact_fields(
        phone=phone, default_region=default_region, timezone_name=timezone_name, texts=texts
    )
    if "phone" in fields and Contact.objects.filter(phone=fields["phone"]).exists():
        problems["phone"] = f"{fields['phone']} is already a contact"
    if problems:
        raise ValidationError(problems)
    contact = Contact.objects.create(**fields)
    for contact_list in lists:
        contact_list_add(contact_list=contact_list, contact_ids=[contact.pk])
    signals.contacts_changed.send(Contact, contact_ids=[contact.pk])
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    language: str = "",
    timezone_name: str = "",
    default_region: str = "",
) -> Contact:
    """Change a contact's number, names, language and time zone (consent changes elsewhere)."""
    from django.core.exceptions import ValidationError

    texts = {"first_name": first_name, "last_name": last_name, "language": language}
    fields, problems = _contact_fields(
        phone=phone, default_region=default_region, timezone_name=timezone_name, texts=texts
    )
    taken = Contact.objects.filter(phone=fields.get("phone")).exclude(pk=contact.pk)
    if "phone" in fields and taken.exists():
        problems["phone"] = f"{fields['phone']} is already another contact"
    if problems:
        raise ValidationError(problems)
    for name, value in fields.items():
        setattr(contact, name, value)
    contact.save()
    signals.contacts_changed.send(Contact, contact_ids=[contact.pk])
    return contact


def contact_delete(*, contact: Contact) -> str:
    """Delete a contact and its list memberships; the campaign ledger keeps its rows."""
    phone = contact.phone
    contact.delete()
    return phone


LIST_NAME_MAX = 200  # ContactList.name's column


def list_name_problem(name: str) -> str | None:
    """Why `name` (stripped) cannot name a list, None when it can: every surface asks this."""
    if not name:
        return "the list needs a name"
    if len(name) > LIST_NAME_MAX:
        return f"a list name is at most {LIST_NAME_MAX} characters ({len(name):,} given)"
    if "\x00" in name:
        return "a list name cannot contain a NUL character"
    return None


def contact_list_rename(*, contact_list: ContactList, name: str, description: str) -> ContactList:
    """Rename a list (names are unique) and change its description."""
    from django.core.exceptions import ValidationError

    name = name.strip()
    if problem := list_name_problem(name):
        raise ValidationError({"name": problem})
    if ContactList.objects.filter(name=name).exclude(pk=contact_list.pk).exists():
        raise ValidationError({"name": f"a list called “{name}” already exists"})
    contact_list.name = name
    contact_list.description = description.strip()
    contact_list.save(update_fields=["name", "description"])
    return contact_list


def contact_list_delete(*, contact_list: ContactList) -> str:
    """Delete a list (never its contacts); refused while a campaign that may still send uses it."""
    from django.core.exceptions import ValidationError

    using = list(
        contact_list.campaigns.filter(state__in=LIVE_CAMPAIGN_STATES).values_list("name", flat=True)
    ) + list(
        contact_list.excluded_from_campaigns.filter(state__in=LIVE_CAMPAIGN_STATES).values_list(
            "name", flat=True
        )
    )
    if using:
        names = ", ".join(f"“{n}”" for n in sorted(set(using))[:5])
        raise ValidationError(f"the list is used by campaigns that may still send: {names}")
    name = contact_list.name
    contact_list.delete()
    return name


def contact_list_create(*, name: str, description: str = "") -> ContactList:
    """Create a list with a unique name (refused, by field, when taken or empty)."""
    from django.core.exceptions import ValidationError

    name = name.strip()
    if problem := list_name_problem(name):
        raise ValidationError({"name": problem})
    if ContactList.objects.filter(name=name).exists():
        raise ValidationError({"name": f"a list called “{name}” already exists"})
    return ContactList.objects.create(name=name, description=description.strip())


REVIEW_RESOLUTIONS = ("opted_out", "kept")


class ReviewError(ValueError):
    """A revocation review that cannot be resolved so (already resolved, unknown choice)."""


@transaction.atomic
def revocation_review_resolve(
    *, review: RevocationReview, resolution: str, actor: Any
) -> RevocationReview:
    """Decide an ambiguous reply: "opted_out" opts the contact out, "kept" keeps them; audited."""
    actor_require(actor, "contacts.change_contact", doing="resolve revocation reviews")
    if resolution not in REVIEW_RESOLUTIONS:
        raise ReviewError(f"resolution is one of {', '.join(REVIEW_RESOLUTIONS)}")
    # Locked: two people deciding the same reply at once resolve it once.
    current = RevocationReview.objects.select_for_update().get(pk=review.pk)
    if current.resolved_at is not None:
        raise ReviewError(f"this reply was already resolved ({current.resolution})")
    user = actor_user(actor)
    if resolution == "opted_out":
        contacts_opt_out(
            contact_ids=[current.contact_id],
            source=ConsentSource.PHRASE,
            note=f"reply reviewed as a revocation: {current.text}"[:500],
            actor=user,
        )
    current.resolved_at = timezone.now()
    current.resolution = resolution
    current.save(update_fields=["resolved_at", "resolution"])
    audit_record(
        actor=actor,
        action="revocation_review",
        contact=current.contact,
        detail=f"{resolution}: {current.text}"[:500],
    )
    return current


# --- Attribute types (issue 26) ---------------------------------------------------------------


@dataclass(frozen=True)
class AttributeUsage:
    """How a key is used now: contacts with a value, and those whose value is not of the type."""

    key: str
    type: str
    with_value: int
    not_of_type: int
    examples: list[str]


# How many contacts have a value for a key, and how many of those values a typed rule cannot
# read (they then never match a number or date comparison): one scan of contacts.
_USAGE = sql.SQL(
    "SELECT count(*) FILTER (WHERE v <> ''), "
    "count(*) FILTER (WHERE v <> '' AND NOT ({readable})), "
    "(array_agg(v) FILTER (WHERE v <> '' AND NOT ({readable})))[1:5] "
    "FROM (SELECT btrim(attributes ->> {key}) AS v FROM {contacts}) AS values_of_key"
)
_READABLE = {
    AttributeType.TEXT: sql.SQL("true"),
    AttributeType.NUMBER: sql.SQL("v ~ {}").format(sql.Literal(NUMBER_PATTERN)),
    AttributeType.DATE: sql.SQL("v ~ {}").format(sql.Literal(DATE_PATTERN)),
    AttributeType.BOOLEAN: sql.SQL("lower(v) = ANY({})").format(
        sql.Literal(sorted(TRUE_WORDS | FALSE_WORDS))
    ),
}


def attribute_types() -> dict[str, str]:
    """Declared attribute types by key (keys not declared are text)."""
    return dict(AttributeDefinition.objects.values_list("key", "type"))


def attribute_usage(*, key: str, kind: str) -> AttributeUsage:
    """How many contacts have `key`, and how many of their values are not of type `kind`."""
    statement = _USAGE.format(
        key=sql.Literal(key),
        contacts=sql.Identifier(Contact._meta.db_table),
        readable=_READABLE[AttributeType(kind)],
    )
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(None))
        with_value, not_of_type, examples = cursor.fetchone()
    return AttributeUsage(key, kind, with_value, not_of_type, list(examples or []))


def attribute_problems(*, key: str, kind: str, label: str = "") -> dict[str, str]:
    """What is wrong with a declaration, by field ({} when it can be saved)."""
    problems = {}
    if not KEY_RE.match(key):
        problems["key"] = "a key is letters, digits and _ (not first), at most 64: e.g. last_order"
    elif key in CONTACT_KEYS:
        problems["key"] = f"{key} is a contact field, not an attribute"
    if kind not in AttributeType.values:
        problems["type"] = f"type is one of {', '.join(AttributeType.values)}"
    if len(label.strip()) > 100:
        problems["label"] = "at most 100 characters"
    return problems


def attribute_define(
    *, key: str, kind: str, label: str = "", actor: Any = None
) -> AttributeDefinition:
    """Declare (or re-declare) a key's type; errors are ValidationError by field.

    Segments saved before keep the type they were saved with; new rules and imports use this.
    """
    from django.core.exceptions import ValidationError

    if actor is not None:
        actor_require(actor, "contacts.change_attributedefinition", doing="declare attribute types")
    key = key.strip()
    if problems := attribute_problems(key=key, kind=kind, label=label):
        raise ValidationError(problems)
    definition, created = AttributeDefinition.objects.update_or_create(
        key=key, defaults={"type": kind, "label": label.strip()}
    )
    if actor is not None:
        audit_record(
            actor=actor,
            action="attribute-type",
            detail=f"{key}: {kind}{'' if created else ' (changed)'}",
        )
    return definition


def attribute_undefine(*, key: str, actor: Any = None) -> bool:
    """Forget a key's declared type (it is text again); returns whether there was one."""
    if actor is not None:
        actor_require(actor, "contacts.delete_attributedefinition", doing="remove attribute types")
    deleted = AttributeDefinition.objects.filter(key=key).delete()[0] > 0
    if deleted and actor is not None:
        audit_record(actor=actor, action="attribute-type", detail=f"{key}: declaration removed")
    return deleted


# --- Journeys (#27): set attributes for many contacts at once ---------------------------------


def contacts_set_attributes(*, contact_ids: Iterable[int], values: dict[str, Any]) -> int:
    """Merge `values` into the attributes of these contacts (a null value removes the key)."""
    ids = sorted(set(contact_ids))
    if not ids or not values:
        return 0
    keep = {k: v for k, v in values.items() if v is not None}
    drop = [k for k, v in values.items() if v is None]
    changed, now = 0, timezone.now()
    for chunk in _chunks(ids):
        with transaction.atomic():
            rows = list(
                Contact.objects.filter(id__in=chunk)
                .select_for_update()
                .order_by("id")
                .only("id", "attributes")
            )
            for contact in rows:
                merged = {**(contact.attributes or {}), **keep}
                for key in drop:
                    merged.pop(key, None)
                contact.attributes, contact.updated_at = merged, now
            Contact.objects.bulk_update(rows, ["attributes", "updated_at"], batch_size=CHUNK)
            signals.contacts_changed.send(Contact, contact_ids=[c.pk for c in rows])
            changed += len(rows)
    return changed
