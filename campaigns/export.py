"""The per-recipient ledger as CSV, streamed (flat memory whatever the campaign's size)."""

from collections.abc import Iterator
from typing import IO

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


def campaign_export_rows(*, campaign: Campaign) -> Iterator[list]:
    """Header, then one list per ledger row, in ledger order.

    A split test's export adds each row's variant (by name) and group (test, holdout, rest).
    """
    names = dict(Variant.objects.filter(campaign=campaign).values_list("position", "name"))
    split = bool(names) or SplitTest.objects.filter(campaign=campaign).exists()
    fields = [field for _, field in COLUMNS] + (["variant", "split_group"] if split else [])
    yield [name for name, _ in COLUMNS] + (["variant", "split_group"] if split else [])
    rows = Message.objects.filter(campaign=campaign).order_by("id").values_list(*fields)
    groups = {g.value: g.name.lower() for g in SplitGroup}
    for row in rows.iterator(chunk_size=5000):
        cells = ["" if value is None else value for value in row]
        if split:
            variant, group = row[-2], row[-1]
            cells[-2] = names.get(variant, "") if variant is not None else ""
            cells[-1] = groups.get(group, "") if group is not None else ""
        yield cells


def campaign_export(*, campaign: Campaign, out: IO[str]) -> int:
    """Write the ledger of `campaign` as CSV to `out`; returns the number of rows."""
    writer = csv_writer(out)  # defused: a ledger text may start with "=" or "@"
    count = -1
    for row in campaign_export_rows(campaign=campaign):
        writer.writerow(row)
        count += 1
    return count
