"""Conversions with their current credit as CSV, streamed (flat memory however many)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import IO, Any

from django.db.models import Q

from campaigns.models import Variant
from conversions.models import Credit
from core.csvsafe import csv_writer

HEADER = [
    "order_id",
    "occurred_at",
    "received_at",
    "phone",
    "contact_id",
    "first_name",
    "last_name",
    "value",
    "currency",
    "campaign",
    "variant",
    "touch",
    "touch_at",
    "message_id",
    "holdout_of",
    "rule",
    "reason",
    "token",
    "coupon",
]


def conversions_export_rows(
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    campaign_id: int | None = None,
) -> Iterator[list[Any]]:
    """Header, then one row per conversion (its current credit), oldest first."""
    yield HEADER
    credits = Credit.objects.filter(current=True).select_related(
        "conversion", "conversion__contact", "message"
    )
    if start is not None:
        credits = credits.filter(conversion__occurred_at__gte=start)
    if end is not None:
        credits = credits.filter(conversion__occurred_at__lt=end)
    if campaign_id is not None:
        credits = credits.filter(Q(campaign_id=campaign_id) | Q(holdout_campaign_id=campaign_id))
    names: dict[tuple[int, int], str] = {}
    for credit in credits.order_by("conversion__occurred_at", "id").iterator(chunk_size=2000):
        conversion, contact = credit.conversion, credit.conversion.contact
        variant = ""
        if credit.variant is not None and credit.campaign_id is not None:
            key = (credit.campaign_id, credit.variant)
            if key not in names:  # a handful of campaigns per export: one read each
                names.update(
                    ((credit.campaign_id, p), n)
                    for p, n in Variant.objects.filter(campaign_id=credit.campaign_id).values_list(
                        "position", "name"
                    )
                )
            variant = names.get(key, "")
        yield [
            conversion.order_id,
            conversion.occurred_at.isoformat(),
            conversion.received_at.isoformat(),
            conversion.phone or (contact.phone if contact else ""),
            contact.pk if contact else "",
            contact.first_name if contact else "",
            contact.last_name if contact else "",
            conversion.value,
            conversion.currency,
            credit.campaign_id or "",
            variant,
            credit.touch,
            credit.touch_at.isoformat() if credit.touch_at else "",
            str(credit.message.message_id) if credit.message else "",
            credit.holdout_campaign_id or "",
            f"r{credit.rule_id}",
            credit.reason,
            conversion.token,
            conversion.coupon,
        ]


def conversions_export(*, out: IO[str], **filters: Any) -> int:
    """Write the conversions as CSV to `out` (cells made inert for spreadsheets); row count."""
    writer = csv_writer(out)
    count = -1
    for row in conversions_export_rows(**filters):
        writer.writerow(row)
        count += 1
    return count
