"""The per-recipient ledger as CSV, streamed (flat memory whatever the campaign's size)."""

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from typing import IO, Any

from django.db.models import QuerySet

from campaigns.history import history_export_rows
from campaigns.models import Campaign, Message, SplitGroup, SplitTest, Variant
from core.csvsafe import csv_writer

COLUMNS = [
    ("phone", "phone"),
    ("contact_id", "contact_id"),
    ("channel", "channel"),
    ("attempt", "attempt"),
    ("failover_for", "replaces__message_id"),
    ("state", "state"),
    ("reason", "reason"),
    ("message_id", "message_id"),
    ("bulk_id", "bulk_id"),
    ("status", "status_name"),
    ("error", "error_name"),
    ("error_permanent", "error_permanent"),
    ("price", "price"),
    ("currency", "currency"),
    ("parts", "parts"),
    ("encoding", "encoding"),
    ("text", "text"),
    ("created_at", "created_at"),
    ("accepted_at", "accepted_at"),
    ("done_at", "done_at"),
    ("seen_at", "seen_at"),
]


# Who the recipient is (issue 26 #11), after the ledger's own columns so positions hold.
CONTACT_COLUMNS = [("first_name", "contact__first_name"), ("last_name", "contact__last_name")]
# A split test's variant (by name) and group (README "Split tests"), for split campaigns.
SPLIT_COLUMNS = [("variant", "variant"), ("split_group", "split_group")]
ATTRIBUTE_SAMPLE = 1000  # rows at each end of the ledger whose contacts name the columns
OTHER_ATTRIBUTES = "other_attributes"


def _attribute_keys(rows: QuerySet[Message]) -> list[str]:
    """Attribute names of the exported contacts, from both ends of the ledger (an import
    gives all its rows the same columns; any other key goes to `other_attributes`)."""
    keys: set[str] = set()
    for order in ("id", "-id"):
        sample = rows.order_by(order).values_list("contact__attributes", flat=True)
        for attributes in sample[:ATTRIBUTE_SAMPLE]:
            if isinstance(attributes, dict):
                keys.update(str(k) for k in attributes)
    return sorted(keys)


def ledger_export_rows(
    rows: QuerySet[Message], variants: dict[int, str] | None = None
) -> Iterator[list[Any]]:
    """Header, then the ledger rows given (in ledger order) with their contact's name and
    attributes: one column per attribute, `other_attributes` (JSON) for any key not sampled.

    With `variants` (a split test's names by position) each row also says its variant and
    split group (test, holdout, rest), before the attributes.
    """
    keys = _attribute_keys(rows)
    split = SPLIT_COLUMNS if variants is not None else []
    fields = [field for _, field in COLUMNS + CONTACT_COLUMNS + split]
    names = [name for name, _ in COLUMNS + CONTACT_COLUMNS + split]
    groups = {g.value: g.name.lower() for g in SplitGroup}
    last = len(fields)
    # An attribute named like a ledger column ("state", "phone") keeps a distinct header.
    headers = [f"attribute_{k}" if k in names or k == OTHER_ATTRIBUTES else k for k in keys]
    yield names + headers + [OTHER_ATTRIBUTES]
    values = rows.order_by("id").values_list(*fields, "contact__attributes")
    known = set(keys)
    for *row, attributes in values.iterator(chunk_size=5000):
        attributes = attributes if isinstance(attributes, dict) else {}
        extra = {k: v for k, v in attributes.items() if k not in known}
        if variants is not None:
            variant, group = row[last - 2], row[last - 1]
            row[last - 2] = variants.get(variant, "") if variant is not None else None
            row[last - 1] = groups.get(group, "") if group is not None else None
        yield (
            ["" if value is None else value for value in row]
            + ["" if attributes.get(k) is None else attributes[k] for k in keys]
            + [json.dumps(extra, ensure_ascii=False) if extra else ""]
        )


def campaign_export_rows(*, campaign: Campaign) -> Iterator[list[Any]]:
    """Header, then one list per ledger row, in ledger order, a split's variant and group too
    (from the history file when the campaign's history is archived: the same columns)."""
    if campaign.history_archived_at is not None:
        return archived_export_rows(campaign)
    return ledger_export_rows(Message.objects.filter(campaign=campaign), split_variants(campaign))


def split_variants(campaign: Campaign) -> dict[int, str] | None:
    """A split campaign's variant names by position (None when it has no split test)."""
    if not SplitTest.objects.filter(campaign=campaign).exists():
        return None
    return dict(Variant.objects.filter(campaign=campaign).values_list("position", "name"))


_TIMES = frozenset({"created_at", "accepted_at", "done_at", "seen_at"})


def _as_stored(field: str, value: object) -> object:
    """A value of the history file as the live ledger gives it (times: datetime, not ISO text)."""
    if field in _TIMES and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value


def archived_export_rows(campaign: Campaign) -> Iterator[list[Any]]:
    """The export of an archived campaign, read from its history file (campaigns/history.py):
    the ledger's columns from the file (a split's variant and group too, as the live export
    names them), the contact's name and attributes as they are now."""
    from contacts.models import Contact

    variants = split_variants(campaign)
    split = SPLIT_COLUMNS if variants is not None else []
    groups = {g.value: g.name.lower() for g in SplitGroup}

    # Failover rows name their original's messageId: one pass for which originals, one to write.
    originals = {
        row["replaces_id"]: "" for row in history_export_rows(campaign) if row["replaces_id"]
    }
    chunk: list[dict[str, Any]] = []
    rows = history_export_rows(campaign)
    first = True
    keys: list[str] = []
    while True:
        chunk = list(itertools.islice(rows, 5000))
        if not chunk:
            break
        for row in chunk:
            if row["id"] in originals:
                originals[row["id"]] = row["message_id"]
        contacts = {
            pk: (first_name, last_name, attributes if isinstance(attributes, dict) else {})
            for pk, first_name, last_name, attributes in Contact.objects.filter(
                pk__in={row["contact_id"] for row in chunk if row["contact_id"]}
            ).values_list("pk", "first_name", "last_name", "attributes")
        }
        if first:  # the header's attribute columns from the first rows' contacts
            keys = sorted({k for _, _, attributes in contacts.values() for k in attributes})
            names = [name for name, _ in COLUMNS + CONTACT_COLUMNS + split]
            headers = [f"attribute_{k}" if k in names or k == OTHER_ATTRIBUTES else k for k in keys]
            yield names + headers + [OTHER_ATTRIBUTES]
            first = False
        known = set(keys)
        for row in chunk:
            first_name, last_name, attributes = contacts.get(row["contact_id"], ("", "", {}))
            values = [
                originals.get(row["replaces_id"], "")
                if field == "replaces__message_id"
                else _as_stored(field, row.get(field))
                for _, field in COLUMNS
            ]
            if variants is not None:
                variant, group = row.get("variant"), row.get("split_group")
                values += [
                    variants.get(variant, "") if variant is not None else None,
                    groups.get(group, "") if group is not None else None,
                ]
            extra = {k: v for k, v in attributes.items() if k not in known}
            yield (
                ["" if value is None else value for value in values[: len(COLUMNS)]]
                + [first_name, last_name]
                + ["" if value is None else value for value in values[len(COLUMNS) :]]
                + ["" if attributes.get(k) is None else attributes[k] for k in keys]
                + [json.dumps(extra, ensure_ascii=False) if extra else ""]
            )
    if first:
        yield [name for name, _ in COLUMNS + CONTACT_COLUMNS + split] + [OTHER_ATTRIBUTES]


def campaign_export(*, campaign: Campaign, out: IO[str]) -> int:
    """Write the ledger of `campaign` as CSV to `out`; returns the number of rows."""
    writer = csv_writer(out)  # defused: a ledger text may start with "=" or "@"
    count = -1
    for row in campaign_export_rows(campaign=campaign):
        writer.writerow(row)
        count += 1
    return count
