"""Conversion services: record conversions (one or thousands at once), explain a credit.

`conversions_record` is what every surface calls (the API's single and batch forms, the
command, the admin): it checks each item and reports the bad ones by index without losing
the good ones, stores new orders with one `INSERT … ON CONFLICT (order_id) DO NOTHING`
(idempotent on the order id: a repeated post returns the stored answer and changes nothing),
attributes the new ones in one statement (conversions/attribution.py) and stores their
credits under the current rule version — a constant number of queries per batch.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from campaigns.models import Campaign, Variant
from channels.registry import conversion_mediums
from contacts.models import Contact
from contacts.phones import PhoneError, international_number
from conversions import signals
from conversions.attribution import Claim, Decision, attribute
from conversions.models import AttributionRule, Conversion, Credit
from conversions.rule import rule_current, rule_document
from core.queueing import enqueue_on_commit
from infobip.client import get_client
from infobip.errors import (
    InfobipConnectionError,
    InfobipError,
    InfobipServerError,
    InfobipThrottledError,
)

BATCH_MAX = 5_000
# A number already in E.164, as Herald stores them (most shops send these): no parsing.
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
VALUE_MAX = Decimal("9999999999")
# A conversion reported from the future is a clock or a typo, beyond this much skew.
FUTURE_SKEW = dt.timedelta(minutes=5)

# New orders in one statement; those already stored are skipped (and looked up after).
INSERT_SQL = """
INSERT INTO conversions_conversion
    (order_id, contact_id, phone, value, currency, occurred_at, received_at, token, coupon,
     source)
SELECT o, c, p, v, cur, at, %(received)s, t, cp, %(source)s
  FROM jsonb_to_recordset(%(rows)s::jsonb)
    AS x(o varchar, c bigint, p varchar, v numeric, cur varchar, at timestamptz, t varchar,
         cp varchar)
ON CONFLICT (order_id) DO NOTHING
RETURNING id, order_id
"""


# The credits of a batch, current, in one statement.
CREDITS_SQL = """
INSERT INTO conversions_credit
    (conversion_id, rule_id, current, message_id, campaign_id, variant, touch, touch_at,
     holdout_campaign_id, reason, created_at)
SELECT c.conversion, %(rule)s, true, c.message, c.campaign, c.variant, c.touch, c.touch_at,
       c.holdout, c.reason, %(now)s
  FROM jsonb_to_recordset(%(rows)s::jsonb)
    AS c(conversion bigint, message bigint, campaign bigint, variant smallint, touch varchar,
         touch_at timestamptz, holdout bigint, reason varchar)
"""


# Orders the shop sent without a known customer whose token named the message's contact.
FILL_CONTACTS_SQL = """
UPDATE conversions_conversion c SET contact_id = t.contact_id
  FROM unnest(%s::bigint[], %s::bigint[]) AS t(id, contact_id)
 WHERE c.id = t.id AND c.contact_id IS NULL
"""


@dataclass(frozen=True)
class ConversionIn:
    """One conversion as checked: everything the shop said, normalised."""

    order_id: str
    phone: str
    contact_id: int | None
    value: Decimal
    currency: str
    occurred_at: dt.datetime
    token: str
    coupon: str


@dataclass
class RecordResult:
    """What a batch did: each item's answer in order, and the rejected ones by index."""

    results: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    created: int = 0
    duplicates: int = 0


class ConversionError(ValueError):
    """An item that cannot be recorded, with the reason (and the field it is about)."""

    def __init__(self, message: str, field_name: str = "") -> None:
        super().__init__(message)
        self.field_name = field_name


def conversion_check(
    raw: Any, *, now: dt.datetime, phones: dict[str, str | PhoneError]
) -> ConversionIn:
    """One item checked and normalised; ConversionError with the reason when it is bad."""
    if not isinstance(raw, dict):
        raise ConversionError("each conversion must be an object")
    order_id = raw.get("order_id")
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        order_id = str(order_id)
    if not isinstance(order_id, str) or not order_id.strip() or len(order_id) > 200:
        raise ConversionError("order_id: 1 to 200 characters", "order_id")
    if "\x00" in order_id:
        raise ConversionError("order_id: no NUL characters", "order_id")
    phone, contact_id = _who(raw.get("contact"), phones)
    value = _money(raw.get("value", "0"))
    currency = raw.get("currency") or settings.HERALD_PRICES.get("currency", "EUR")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ConversionError("currency: a three-letter code such as EUR", "currency")
    occurred_at = _time(raw.get("occurred_at"), now)
    token = raw.get("token") or ""
    coupon = raw.get("coupon") or ""
    if not isinstance(token, str) or len(token) > 80 or "\x00" in token:
        raise ConversionError("token: the `hrd` value of a tracked link", "token")
    if not isinstance(coupon, str) or len(coupon) > 64 or "\x00" in coupon:
        raise ConversionError("coupon: at most 64 characters", "coupon")
    return ConversionIn(
        order_id=order_id.strip(),
        phone=phone,
        contact_id=contact_id,
        value=value,
        currency=currency.upper(),
        occurred_at=occurred_at,
        token=token.strip(),
        coupon=coupon.strip(),
    )


def _who(contact: Any, phones: dict[str, str | PhoneError]) -> tuple[str, int | None]:
    if contact is None:
        return "", None
    if not isinstance(contact, dict):
        raise ConversionError('contact: {"phone": "+41…"} or {"id": N}', "contact")
    if (pk := contact.get("id")) is not None:
        if not isinstance(pk, int) or isinstance(pk, bool) or not 0 < pk < 2**63:
            raise ConversionError("contact.id: a contact's id", "contact")
        return "", pk
    raw = contact.get("phone")
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 40 or "\x00" in raw:
        raise ConversionError('contact: {"phone": "+41…"} or {"id": N}', "contact")
    if raw not in phones:
        if E164.match(raw):
            phones[raw] = raw  # already as Herald stores numbers: nothing to parse
        else:
            try:
                phones[raw] = international_number(raw)
            except PhoneError as exc:
                phones[raw] = exc
    found = phones[raw]
    if isinstance(found, PhoneError):
        raise ConversionError(f"contact.phone: {found}", "contact")
    return found, None


def _money(raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ConversionError('value: a decimal amount such as "59.90"', "value")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ConversionError('value: a decimal amount such as "59.90"', "value") from None
    if not value.is_finite() or value < 0 or value > VALUE_MAX:
        raise ConversionError("value: 0 or more, below 10 billion", "value")
    return value.quantize(Decimal("0.0001"))


def _time(raw: Any, now: dt.datetime) -> dt.datetime:
    if raw in (None, ""):
        return now
    parsed = parse_datetime(raw) if isinstance(raw, str) and len(raw) <= 40 else None
    if parsed is None or parsed.tzinfo is None:
        raise ConversionError(
            "occurred_at: ISO 8601 with a time zone, e.g. 2026-12-07T10:00:00Z", "occurred_at"
        )
    try:
        # In UTC: Python takes offsets up to ±24 h, PostgreSQL only real ones (±15:59).
        parsed = parsed.astimezone(dt.UTC)
    except OverflowError:
        raise ConversionError("occurred_at: out of range", "occurred_at") from None
    if parsed > now + FUTURE_SKEW:
        raise ConversionError("occurred_at: in the future", "occurred_at")
    return parsed


def conversions_record(
    *, items: Sequence[Any], source: str = Conversion.Source.API
) -> RecordResult:
    """Record conversions (idempotent per order_id), attribute the new ones; bad items listed."""
    now = timezone.now()
    result = RecordResult()
    checked: list[tuple[int, ConversionIn]] = []
    phones: dict[str, str | PhoneError] = {}
    seen: set[str] = set()
    for index, raw in enumerate(items):
        try:
            item = conversion_check(raw, now=now, phones=phones)
        except ConversionError as exc:
            result.rejected.append({"index": index, "reason": str(exc), "field": exc.field_name})
            continue
        checked.append((index, item))
    rule = rule_current()
    with transaction.atomic():
        contacts = _contacts(item for _, item in checked)
        fresh: list[tuple[int, ConversionIn]] = []
        for index, item in checked:
            if item.order_id in seen:
                continue  # a repeat inside the batch: the first one is the order
            seen.add(item.order_id)
            fresh.append((index, item))
        created = _insert(fresh, contacts, source, now)
        new = [(created[item.order_id], item) for _, item in fresh if item.order_id in created]
        claims = [
            Claim(pk, _contact_of(item, contacts), item.occurred_at, item.token, item.coupon)
            for pk, item in new
        ]
        decisions = attribute(claims=claims, rule=rule)
        _store(decisions, rule)
        _forward_later([d.conversion_id for d in decisions if d.message_id is not None])
        if decisions:
            signals.conversions_attributed.send(
                Conversion, conversion_ids=[d.conversion_id for d in decisions]
            )
    result.created = len(new)
    # The new ones' answers from what is in hand; those recorded before are read back.
    documents = _new_documents(new, decisions, rule, contacts, now)
    known = [i.order_id for _, i in checked if i.order_id not in documents]
    documents |= conversions_documents(order_ids=known) if known else {}
    firsts = {item.order_id: index for index, item in reversed(fresh)}
    for index, item in checked:
        document = dict(documents[item.order_id])
        document["created"] = item.order_id in created and firsts[item.order_id] == index
        result.results.append(document)
    result.duplicates = len(checked) - result.created
    return result


def _new_documents(
    new: list[tuple[int, ConversionIn]],
    decisions: list[Decision],
    rule: AttributionRule,
    contacts: dict[str, int],
    now: dt.datetime,
) -> dict[str, dict[str, Any]]:
    """The documents of conversions this call stored, without reading them back."""
    phones = {pk: phone for phone, pk in contacts.items()}
    ids = {d.contact_id for d in decisions if d.contact_id is not None}
    ids |= {i.contact_id for _, i in new if i.contact_id is not None}
    if missing := ids - set(phones):
        phones |= dict(Contact.objects.filter(id__in=missing).values_list("id", "phone"))
    names = _variant_names([d for d in decisions if d.variant is not None])
    journeys = _journeys({d.campaign_id for d in decisions if d.campaign_id is not None})
    described = rule_document(rule)
    documents = {}
    for (_, item), decision in zip(new, decisions, strict=True):
        contact_id = decision.contact_id or _contact_of(item, contacts)
        attributed = None
        if decision.touch:
            attributed = {
                "message_id": decision.message_uuid or None,
                "campaign": decision.campaign_id,
                "journey": journeys.get(decision.campaign_id or 0),
                "variant": names.get((decision.campaign_id or 0, decision.variant or 0)),
                "touch": decision.touch,
                "touch_at": decision.touch_at.isoformat() if decision.touch_at else None,
                "rule": f"r{rule.pk}",
            }
        holdout = decision.holdout_campaign_id
        documents[item.order_id] = {
            "order_id": item.order_id,
            "contact": {"id": contact_id, "phone": phones[contact_id]}
            if contact_id in phones
            else None,
            "value": f"{item.value:.2f}",
            "currency": item.currency,
            "occurred_at": item.occurred_at.isoformat(),
            "received_at": now.isoformat(),
            "attributed_to": attributed,
            "reason": decision.reason[:500],
            "holdout": {"campaign": holdout} if holdout else None,
            "rule": described,
            "forwarded_at": None,
            "forward_error": "",
        }
    return documents


def _contacts(items: Iterable[ConversionIn]) -> dict[str, int]:
    """E.164 → contact id for the batch's numbers (one query)."""
    phones = {item.phone for item in items if item.phone}
    if not phones:
        return {}
    return dict(Contact.objects.filter(phone__in=phones).values_list("phone", "id"))


def _contact_of(item: ConversionIn, contacts: dict[str, int]) -> int | None:
    return item.contact_id if item.contact_id is not None else contacts.get(item.phone)


def _insert(
    fresh: list[tuple[int, ConversionIn]], contacts: dict[str, int], source: str, now: dt.datetime
) -> dict[str, int]:
    """order_id → id of the orders this call stored (not those stored before)."""
    if not fresh:
        return {}
    items = [item for _, item in fresh]
    # A contact id given by the shop that names nobody is dropped, not an error: the order
    # still counts (credited to nothing, or through its token).
    ids = {i.contact_id for i in items if i.contact_id is not None}
    existing = (
        set(Contact.objects.filter(id__in=ids).values_list("id", flat=True)) if ids else set()
    )
    rows = [
        {
            "o": i.order_id,
            "c": (i.contact_id if i.contact_id in existing else None)
            if i.contact_id is not None
            else contacts.get(i.phone),
            "p": i.phone,
            "v": str(i.value),
            "cur": i.currency,
            "at": i.occurred_at.isoformat(),
            "t": i.token,
            "cp": i.coupon,
        }
        for i in items
    ]
    # The batch as one JSON document: PostgreSQL reads it far faster than psycopg dumps arrays.
    params: dict[str, Any] = {
        "rows": orjson.dumps(rows).decode(),
        "received": now,
        "source": source,
    }
    with _bound_cursor() as cursor:
        cursor.execute(INSERT_SQL, params)
        return {order_id: pk for pk, order_id in cursor.fetchall()}


def _store(decisions: list[Decision], rule: AttributionRule) -> None:
    """The credits, current, under `rule`; a token's contact fills an unknown customer."""
    if not decisions:
        return
    rows = [
        {
            "conversion": d.conversion_id,
            "message": d.message_id,
            "campaign": d.campaign_id,
            "variant": d.variant,
            "touch": d.touch,
            "touch_at": d.touch_at.isoformat() if d.touch_at else None,
            "holdout": d.holdout_campaign_id,
            "reason": d.reason[:500],
        }
        for d in decisions
    ]
    params = {"rows": orjson.dumps(rows).decode(), "rule": rule.pk, "now": timezone.now()}
    with _bound_cursor() as cursor:
        cursor.execute(CREDITS_SQL, params)
    _fill_contacts(decisions)


@contextmanager
def _bound_cursor() -> Iterator[psycopg.Cursor]:
    """A cursor on Django's connection that sends parameters apart from the SQL: a batch's
    arrays are not quoted into the statement in Python (half the web CPU of a batch)."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def _fill_contacts(decisions: list[Decision]) -> None:
    """Orders stored without a known customer get the contact their token's message names."""
    found = [(d.conversion_id, d.contact_id) for d in decisions if d.contact_id is not None]
    if found:
        with connection.cursor() as cursor:
            cursor.execute(FILL_CONTACTS_SQL, [[c for c, _ in found], [k for _, k in found]])


def conversions_documents(*, order_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """order_id → the conversion's document with its current credit (two reads)."""
    conversions = list(
        Conversion.objects.filter(order_id__in=list(set(order_ids))).select_related("contact")
    )
    credits = {
        c.conversion_id: c
        for c in Credit.objects.filter(conversion__in=conversions, current=True).select_related(
            "rule", "message"
        )
    }
    names = _variant_names(credits.values())
    journeys = _journeys({c.campaign_id for c in credits.values() if c.campaign_id is not None})
    return {
        c.order_id: conversion_document(c, credits.get(c.pk), names, journeys) for c in conversions
    }


def _journeys(campaign_ids: set[int]) -> dict[int, int]:
    """campaign → journey, for the hidden campaigns that send journeys' steps (one read)."""
    if not campaign_ids:
        return {}
    rows = Campaign.objects.filter(id__in=campaign_ids, journey_step__isnull=False).values_list(
        "id", "journey_step__version__journey_id"
    )
    return {campaign: journey for campaign, journey in rows if journey is not None}


def _variant_names(credits: Any) -> dict[tuple[int, int], str]:
    campaigns = {c.campaign_id for c in credits if c.variant is not None}
    rows = Variant.objects.filter(campaign_id__in=campaigns).values_list(
        "campaign_id", "position", "name"
    )
    return {(campaign, position): name for campaign, position, name in rows}


def conversion_document(
    conversion: Conversion,
    credit: Credit | None,
    names: dict[tuple[int, int], str],
    journeys: dict[int, int] | None = None,
) -> dict[str, Any]:
    """A conversion and how it was credited (INTERFACE: `attributed_to` or null, the reason)."""
    attributed = None
    if credit is not None and credit.touch:
        journey = (journeys or {}).get(credit.campaign_id or 0)
        attributed = {
            "message_id": str(credit.message.message_id) if credit.message else None,
            "campaign": credit.campaign_id,
            "journey": journey,
            "variant": names.get((credit.campaign_id or 0, credit.variant or 0)),
            "touch": credit.touch,
            "touch_at": credit.touch_at.isoformat() if credit.touch_at else None,
            "rule": f"r{credit.rule_id}",
        }
    contact = conversion.contact
    return {
        "order_id": conversion.order_id,
        "contact": {"id": contact.pk, "phone": contact.phone} if contact else None,
        "value": f"{conversion.value:.2f}",
        "currency": conversion.currency,
        "occurred_at": conversion.occurred_at.isoformat(),
        "received_at": conversion.received_at.isoformat(),
        "attributed_to": attributed,
        "reason": credit.reason if credit else "not attributed yet",
        "holdout": {"campaign": credit.holdout_campaign_id}
        if credit and credit.holdout_campaign_id
        else None,
        "rule": rule_document(credit.rule) if credit else None,
        "forwarded_at": conversion.forwarded_at.isoformat() if conversion.forwarded_at else None,
        "forward_error": conversion.forward_error,
    }


def conversion_explain(*, order_id: str) -> dict[str, Any] | None:
    """The conversion's document, with its credit explained; None when there is no such order."""
    return conversions_documents(order_ids=[order_id]).get(order_id)


# Conversions credited to a message Infobip tracks conversions of (SMS, accepted by Infobip),
# not forwarded yet; `retrying` also takes those whose last try failed in a way worth repeating.
FORWARDABLE_SQL = """
SELECT c.id, m.message_id::text
  FROM conversions_conversion c
  JOIN conversions_credit cr ON cr.conversion_id = c.id AND cr.current
  JOIN campaigns_message m ON m.id = cr.message_id
 WHERE c.id = ANY(%(ids)s) AND c.forwarded_at IS NULL
   AND (c.forward_error = '' OR (%(retrying)s AND c.forward_error LIKE 'will retry:%%'))
   AND m.channel = ANY(%(mediums)s) AND m.accepted_at IS NOT NULL
 ORDER BY c.id
"""
# The sweep's: recent credited SMS conversions never forwarded (their task was lost with the
# broker, or a worker died in its retries), or whose last try is to be repeated.
STRAGGLERS_SQL = """
SELECT c.id
  FROM conversions_conversion c
  JOIN conversions_credit cr ON cr.conversion_id = c.id AND cr.current
  JOIN campaigns_message m ON m.id = cr.message_id
 WHERE c.occurred_at > %(since)s AND c.received_at < %(settled)s AND c.forwarded_at IS NULL
   AND (c.forward_error = '' OR c.forward_error LIKE 'will retry:%%')
   AND m.channel = ANY(%(mediums)s) AND m.accepted_at IS NOT NULL
 ORDER BY c.id LIMIT %(limit)s
"""
RETRY_PREFIX = "will retry: "
# Worth repeating later: throttled, Infobip's 5xx, or not reached. A refusal (4xx), a wrong
# key or an answer lost on the way (it may have been counted) is recorded and not repeated.
RETRYABLE = (InfobipThrottledError, InfobipServerError, InfobipConnectionError)


@dataclass
class ForwardResult:
    """What one forwarding run did: forwarded, to retry (ids), refused for good."""

    forwarded: int = 0
    retry: list[int] = field(default_factory=list)
    failed: int = 0


def _forward_later(conversion_ids: list[int]) -> None:
    """After commit, one task for the batch's credited conversions (when forwarding is on)."""
    if not conversion_ids or not settings.HERALD_INFOBIP_CONVERSIONS:
        return
    from conversions.tasks import forward_conversions

    enqueue_on_commit(
        lambda: forward_conversions.delay(conversion_ids), what="forwarding conversions"
    )


def conversions_forward(*, conversion_ids: Sequence[int], retrying: bool = False) -> ForwardResult:
    """Forward credited SMS conversions to Infobip's conversion tracking, each at most once."""
    result = ForwardResult()
    if not settings.HERALD_INFOBIP_CONVERSIONS or not conversion_ids:
        return result
    params: dict[str, Any] = {
        "ids": list(conversion_ids),
        "mediums": conversion_mediums(),
        "retrying": retrying,
    }
    with connection.cursor() as cursor:
        cursor.execute(FORWARDABLE_SQL, params)
        rows: list[tuple[int, str]] = cursor.fetchall()
    if not rows:
        return result
    client = get_client()
    for pk, message_id in rows:
        # One transaction per conversion, its row locked around the POST: a concurrent run
        # (the sweep beside a retry) skips it, a later one sees forwarded_at and stops.
        with transaction.atomic():
            mine = Conversion.objects.select_for_update(skip_locked=True).filter(
                pk=pk, forwarded_at__isnull=True
            )
            if not list(mine.values_list("pk", flat=True)[:1]):
                continue
            try:
                client.log_conversion(message_id)
            except RETRYABLE as exc:
                mine.update(forward_error=(RETRY_PREFIX + str(exc))[:300])
                result.retry.append(pk)
            except InfobipError as exc:
                mine.update(forward_error=str(exc)[:300])
                result.failed += 1
            else:
                mine.update(forwarded_at=timezone.now(), forward_error="")
                result.forwarded += 1
    return result


def conversions_forward_stragglers(
    *, now: dt.datetime, days: int = 2, limit: int = 1_000
) -> ForwardResult:
    """Forward recent credited SMS conversions whose task was lost (the beat's sweep)."""
    if not settings.HERALD_INFOBIP_CONVERSIONS:
        return ForwardResult()
    params: dict[str, Any] = {
        "since": now - dt.timedelta(days=days),
        "settled": now - dt.timedelta(minutes=2),
        "limit": limit,
        "mediums": conversion_mediums(),
    }
    with connection.cursor() as cursor:
        cursor.execute(STRAGGLERS_SQL, params)
        ids = [pk for (pk,) in cursor.fetchall()]
    return conversions_forward(conversion_ids=ids, retrying=True)
