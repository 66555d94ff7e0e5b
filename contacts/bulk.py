"""Set-based writes for the import: upsert contacts, add list memberships.

The rows go through COPY into a temporary table and one INSERT … ON CONFLICT (Django's
bulk_create spends most of its time preparing and quoting parameters one by one — about 4x
slower here).
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from django.db import connection
from django.utils import timezone
from psycopg import sql
from psycopg.rows import args_row

from contacts import signals
from contacts.models import Contact, ContactList, ListMembership

# The fields an import sets; on a conflict these (and updated_at) are overwritten.
FIELDS = ("first_name", "last_name", "language", "timezone", "country", "attributes")
_CONTACTS = sql.Identifier(Contact._meta.db_table)
_STAGE = sql.Identifier("contacts_import_stage")


class StoredContact(NamedTuple):
    """A contact as FETCH_EXISTING reads it."""

    id: int
    phone: str
    opted_out: bool
    first_name: str
    last_name: str
    language: str
    timezone: str
    country: str
    attributes: dict[str, Any] | str  # Django's cursors load jsonb as text


class PhoneId(NamedTuple):
    """A contact UPSERT wrote or found: its number and id."""

    phone: str
    id: int


# The stored contacts among a list of numbers. `= ANY(array)` is one parameter; `IN (…)` would
# be thousands, each quoted client-side.
FETCH_EXISTING = sql.SQL("SELECT {columns} FROM {contacts} WHERE phone = ANY(%s)").format(
    columns=sql.SQL(", ").join(map(sql.Identifier, StoredContact._fields)), contacts=_CONTACTS
)

# The connection's staging table for a batch (temporary: it lives as long as the connection,
# and is emptied after each batch).
CREATE_STAGE = sql.SQL("""
    CREATE TEMP TABLE IF NOT EXISTS {stage} (phone text, first_name text, last_name text,
        language text, timezone text, country text, attributes jsonb)
""").format(stage=_STAGE)
_STAGED = sql.SQL(", ").join(map(sql.Identifier, ("phone", *FIELDS)))
COPY_STAGE = sql.SQL("COPY {stage} ({columns}) FROM STDIN").format(stage=_STAGE, columns=_STAGED)
EMPTY_STAGE = sql.SQL("TRUNCATE {stage}").format(stage=_STAGE)

# The staged batch into contacts: new numbers are inserted with no consent recorded; a number
# that exists (or appeared meanwhile) gets the import's fields and keeps its consent columns.
UPSERT = sql.SQL("""
    INSERT INTO {contacts} ({columns}, opted_out, opted_out_source, opted_out_channel,
                            created_at, updated_at)
    SELECT {columns}, false, '', '', %(now)s, %(now)s FROM {stage}
    ON CONFLICT (phone) DO UPDATE SET {updates}
    RETURNING phone, id
""").format(
    contacts=_CONTACTS,
    columns=_STAGED,
    stage=_STAGE,
    updates=sql.SQL(", ").join(
        sql.SQL("{name} = EXCLUDED.{name}").format(name=sql.Identifier(name))
        for name in (*FIELDS, "updated_at")
    ),
)

# Contacts onto a list. ON CONFLICT DO NOTHING: a concurrent add of the same contact is not an
# error; RETURNING says which were not on it yet.
ADD_MEMBERSHIPS = sql.SQL("""
    INSERT INTO {memberships} (contact_id, contact_list_id, added_at)
    SELECT unnest(%(ids)s::bigint[]), %(list)s, %(now)s
    ON CONFLICT DO NOTHING
    RETURNING contact_id
""").format(memberships=sql.Identifier(ListMembership._meta.db_table))


def fetch_existing(phones: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored contacts among `phones`: phone → {id, phone, opted_out, *FIELDS}. One query."""
    with connection.cursor() as cursor:
        cursor.execute(FETCH_EXISTING, [list(phones)])
        cursor.cursor.row_factory = args_row(StoredContact)
        rows: list[StoredContact] = cursor.fetchall()
    found = {row.phone: row._asdict() for row in rows}
    for row in found.values():
        if isinstance(row["attributes"], str):
            row["attributes"] = orjson.loads(row["attributes"])
    return found


def upsert_contacts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert or update contacts (dicts with `phone` and FIELDS); returns phone → id.

    Consent columns are never touched for existing contacts: opting out has its own service.
    """
    if not rows:
        return {}
    return _upsert(rows, timezone.now())


def add_memberships(
    contact_list: ContactList, *, new_ids: Sequence[int], existing_ids: Sequence[int]
) -> int:
    """Put contacts on `contact_list` (ADD_MEMBERSHIPS); returns how many were not on it yet.

    `new_ids` are contacts created in this transaction, which cannot be on any list yet.
    """
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            ADD_MEMBERSHIPS, {"ids": [*new_ids, *existing_ids], "list": contact_list.pk, "now": now}
        )
        joined = [row[0] for row in cursor.fetchall()]
    if joined:
        signals.list_joined.send(ContactList, list_id=contact_list.pk, contact_ids=joined)
    return len(joined)


def _json(value: Any) -> str:
    """JSON text of `value`: orjson, or the json module for what orjson refuses (huge ints)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _upsert(rows: Sequence[dict[str, Any]], now: datetime) -> dict[str, int]:
    """COPY the batch into the stage, UPSERT it, empty the stage."""
    with connection.cursor() as cursor:
        cursor.execute(CREATE_STAGE)
        with cursor.cursor.copy(COPY_STAGE) as copy:
            for row in rows:
                copy.write_row(
                    (row["phone"], *(row[name] for name in FIELDS[:-1]), _json(row["attributes"]))
                )
        cursor.execute(UPSERT, {"now": now})
        cursor.cursor.row_factory = args_row(PhoneId)
        written: list[PhoneId] = cursor.fetchall()
        cursor.execute(EMPTY_STAGE)
    signals.contacts_changed.send(Contact, contact_ids=sorted(row.id for row in written))
    return {row.phone: row.id for row in written}
