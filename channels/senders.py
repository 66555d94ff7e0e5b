"""Senders per destination country: the services that change the table, and who sends to whom.

`sender_save` / `sender_remove` are the one way to change the table (the pages, the admin, the
command and the API call them). `SenderBook` reads one medium's rows once and answers, per
destination country, which sender a message comes from (`route`): a campaign's own sender, else
— `auto`, the default — the country's row, else the `*` row, else the type's configured
default. A campaign's own sender that the country refuses (an alphanumeric name where only
numbers arrive) is swapped for the country's row when there is one; otherwise the preview lists
the country and the launch is refused (campaigns/compliance.py).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from channels.base import ChannelType
from channels.countries import country_name, country_valid
from channels.models import ANY_COUNTRY, Sender
from channels.regional import DLT_ID, Route, SenderRow
from channels.registry import UnknownChannel, channel_type, mediums, types_of_medium
from core.rules import Actor, actor_require
from core.services import audit_record

# The value that asks for a sender per recipient's country (the default when the table has any).
AUTO = "auto"
INT32_MAX = 2_147_483_647
SENDER_FIELDS = ("dlt_entity_id", "dlt_telemarketer_id", "iys_brand_code", "kr_reseller_code")


def sender_is_auto(value: str | None) -> bool:
    """Whether a campaign's sender asks for the sender of each recipient's country."""
    return not (value or "").strip() or (value or "").strip() == AUTO


def medium_of(channel: str) -> str:
    """The medium a channel name stands for: a type (`whatsapp_template`) or a medium itself."""
    if channel in mediums():
        return channel
    return channel_type(channel).ledger


def _medium_type(medium: str) -> ChannelType:
    return types_of_medium(medium)[0]


def _medium_reads(medium: str) -> set[str]:
    """The sender fields some rule of the medium's types reads."""
    return {
        name
        for kind in types_of_medium(medium)
        for rule in kind.regional_rules
        for name in rule.sender_fields
    }


def sender_clean(
    *,
    channel: str,
    country: str,
    sender: str,
    fields: dict[str, Any],
) -> tuple[str, str, str, dict[str, Any]]:
    """The values as stored, or ValidationError naming each field at fault."""
    problems: dict[str, list[str]] = {}
    medium = ""
    try:
        medium = medium_of((channel or "").strip())
    except UnknownChannel as exc:
        problems["channel"] = [str(exc)]
    country = (country or "").strip().upper()
    if country != ANY_COUNTRY and not country_valid(country):
        problems["country"] = [f"{country!r} is not a country: use an ISO code such as IN, or *"]
    sender = (sender or "").strip()
    if not sender:
        problems["sender"] = ["give the sender: a number or an alphanumeric name"]
    elif medium:
        kind = _medium_type(medium)
        try:
            sender = kind.normalise_sender(sender)
        except ValueError as exc:
            problems["sender"] = [str(exc)]
        else:
            why = kind.sender_problem(country=country, sender=sender)
            if country != ANY_COUNTRY and why:
                problems["sender"] = [f"{why}: give {country_name(country)} a number"]
    cleaned: dict[str, Any] = {}
    reads = _medium_reads(medium) if medium else set(SENDER_FIELDS)
    for name in SENDER_FIELDS:
        value = fields.get(name)
        if value in (None, ""):
            cleaned[name] = None if name.endswith("_code") else ""
            continue
        label = str(getattr(Sender._meta.get_field(name), "verbose_name", name))
        if name not in reads:
            problems[name] = [f"{label} is not used on {medium}"]
            continue
        if name.endswith("_code"):
            number = _integer(value)
            low, high = (100_000_000, 999_999_999) if name == "kr_reseller_code" else (1, INT32_MAX)
            if number is None or not low <= number <= high:
                size = "9 digits" if name == "kr_reseller_code" else "a positive whole number"
                problems[name] = [f"{label}: {size}"]
            cleaned[name] = number
        else:
            text = str(value).strip()
            if not DLT_ID.fullmatch(text):
                problems[name] = [f"{label}: up to 64 letters, digits or -"]
            cleaned[name] = text
    if problems:
        raise ValidationError(problems)
    return medium, country, sender, cleaned


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() and len(text) <= 12 else None


@transaction.atomic
def sender_save(
    *,
    channel: str,
    country: str,
    sender: str,
    actor: Actor,
    dlt_entity_id: str = "",
    dlt_telemarketer_id: str = "",
    iys_brand_code: int | str | None = None,
    kr_reseller_code: int | str | None = None,
) -> tuple[Sender, bool]:
    """Set who sends on a channel to a country (add the row, or change it): (row, created)."""
    medium, country, sender, fields = sender_clean(
        channel=channel,
        country=country,
        sender=sender,
        fields={
            "dlt_entity_id": dlt_entity_id,
            "dlt_telemarketer_id": dlt_telemarketer_id,
            "iys_brand_code": iys_brand_code,
            "kr_reseller_code": kr_reseller_code,
        },
    )
    existing = Sender.objects.select_for_update().filter(medium=medium, country=country).first()
    actor_require(
        actor,
        "channels.change_sender" if existing else "channels.add_sender",
        doing="change senders" if existing else "add senders",
    )
    row = existing or Sender(medium=medium, country=country)
    row.sender = sender
    for name, value in fields.items():
        setattr(row, name, value)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        # Added by someone else between our read and our insert: theirs stands, say so.
        raise ValidationError(
            {"country": [f"{country_name(country)} got a {medium} sender meanwhile: try again"]}
        ) from None
    audit_record(
        actor=actor,
        action="sender_change" if existing else "sender_add",
        detail=f"{medium} {country}: {sender}",
    )
    return row, existing is None


def sender_remove(*, sender: Sender, actor: Actor) -> None:
    """Remove a row: its country's messages then come from the `*` row or the default."""
    actor_require(actor, "channels.delete_sender", doing="remove senders")
    detail = f"{sender.medium} {sender.country}: {sender.sender}"
    sender.delete()
    audit_record(actor=actor, action="sender_remove", detail=detail)


def sender_document(row: Sender) -> dict[str, Any]:
    """A row as the command's --json and the API show it."""
    return {
        "id": row.pk,
        "channel": row.medium,
        "country": row.country,
        "country_name": country_name(row.country),
        "sender": row.sender,
        "dlt_entity_id": row.dlt_entity_id,
        "dlt_telemarketer_id": row.dlt_telemarketer_id,
        "iys_brand_code": row.iys_brand_code,
        "kr_reseller_code": row.kr_reseller_code,
        "updated_at": row.updated_at.isoformat(),
    }


def senders_defined(medium: str) -> bool:
    """Whether the table has any row for `medium` (then `auto` is the default sender)."""
    return Sender.objects.filter(medium=medium).exists()


class SenderBook:
    """One medium's senders, read once (a batch, a preview): who sends to each country."""

    def __init__(self, medium: str, rows: dict[str, SenderRow]) -> None:
        self.medium = medium
        self.rows = rows

    @classmethod
    def load(cls, medium: str) -> SenderBook:
        return cls(medium, {row.country: _row(row) for row in Sender.objects.filter(medium=medium)})

    def route(self, *, kind: ChannelType, country: str, chosen: str, default: str) -> Route:
        """Who sends `kind`'s messages to `country`; `chosen` is the campaign's own ('' auto)."""
        own = self.rows.get(country) if country else None
        anywhere = self.rows.get(ANY_COUNTRY)
        if sender_is_auto(chosen):
            if own is not None:
                return Route(country, own.sender, own)
            if anywhere is not None:
                return Route(country, anywhere.sender, anywhere)
            return Route(country, default, None)
        chosen = _normal(kind, chosen)
        if (
            own is not None
            and own.sender != chosen
            and kind.sender_problem(country=country, sender=chosen)
            and not kind.sender_problem(country=country, sender=own.sender)
        ):
            return Route(country, own.sender, own, swapped_from=chosen)
        for row in (own, anywhere):
            if row is not None and row.sender == chosen:
                return Route(country, chosen, row)
        return Route(country, chosen, None)


def _normal(kind: ChannelType, sender: str) -> str:
    try:
        return kind.normalise_sender(sender)
    except ValueError:
        return sender.strip()


def _row(row: Sender) -> SenderRow:
    return SenderRow(
        id=row.pk,
        medium=row.medium,
        country=row.country,
        sender=row.sender,
        dlt_entity_id=row.dlt_entity_id,
        dlt_telemarketer_id=row.dlt_telemarketer_id,
        iys_brand_code=row.iys_brand_code,
        kr_reseller_code=row.kr_reseller_code,
    )
