"""Set-based writes for the import: upsert contacts, add list memberships.

The rows go through COPY into a temporary table and one INSERT … ON CONFLICT (Django's
bulk_create spends most of its time preparing and quoting parameters one by one — about 4x
slower here).
"""

import json
from collections.abc import Sequence
from typing import Any

import orjson
from django.db import connection
from django.utils import timezone

from contacts import signals
from contacts.models import Contact, ContactList, ListMembership

# The fields an import sets; on a conflict these (and updated_at) are overwritten.
FIELDS = ("first_name", "last_name", "language", "timezone", "country", "attributes")
_STAGE = "contacts_import_stage"


def fetch_existing(phones: Sequence[str]) -> dict[str, dict]:
    """The stored contacts among `phones`: phone → {id, phone, opted_out, *FIELDS}. One query."""
    columns = ("id", "phone", "opted_out", *FIELDS)
    # `= ANY(array)` is one parameter; `IN (…)` would be thousands, each quoted client-side.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM {Contact._meta.db_table} "  # noqa: S608
            "WHERE phone = ANY(%s)",
            [list(phones)],
        )
        rows = cursor.fetchall()
    found = {row[1]: dict(zip(columns, row, strict=True)) for row in rows}
    for row in found.values():
        if isinstance(row["attributes"], str):
            row["attributes"] = orjson.loads(row["attributes"])
    return found


def upsert_contacts(rows: Sequence[dict]) -> dict[str, int]:
    """Insert or update contacts (dicts with `phone` and FIELDS); returns phone → id.

    Consent columns are never touched for existing contacts: opting out has its own service.
    """
    if not rows:
        return {}
    return _upsert(rows)


def add_memberships(
    contact_list: ContactList, *, new_ids: Sequence[int], existing_ids: Sequence[int]
) -> int:
    """Put contacts on `contact_list`; returns how many were not on it yet.

    `new_ids` are contacts created in this transaction, which cannot be on any list yet.
    """
    # ON CONFLICT DO NOTHING: a concurrent add of the same contact is not an error.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ListMembership._meta.db_table} (contact_id, contact_list_id, "
            "added_at) SELECT unnest(%s::bigint[]), %s, %s ON CONFLICT DO NOTHING "
            "RETURNING contact_id",
            [[*new_ids, *existing_ids], contact_list.pk, timezone.now()],
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


def _upsert(rows: Sequence[dict]) -> dict[str, int]:
    table = Contact._meta.db_table
    columns = ", ".join(("phone", *FIELDS))
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (phone text, first_name text, "
            "last_name text, language text, timezone text, country text, attributes jsonb)"
        )
        with cursor.cursor.copy(f"COPY {_STAGE} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    (row["phone"], *(row[name] for name in FIELDS[:-1]),
                     _json(row["attributes"]))
                )  # fmt: skip
        updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in (*FIELDS, "updated_at"))
        # Only identifiers from the model are interpolated; every value is a parameter.
        insert = (
            f"INSERT INTO {table} ({columns}, "  # noqa: S608
            "opted_out, opted_out_source, opted_out_channel, created_at, updated_at) "
            f"SELECT {columns}, false, '', '', %s, %s FROM {_STAGE} "
            f"ON CONFLICT (phone) DO UPDATE SET {updates} RETURNING phone, id"
        )
        cursor.execute(insert, [now, now])
        ids = dict(cursor.fetchall())
        signals.contacts_changed.send(Contact, contact_ids=sorted(ids.values()))
        # The stage lives as long as the connection; empty it for the next batch.
        cursor.execute(f"TRUNCATE {_STAGE}")
    return ids
