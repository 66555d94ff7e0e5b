"""Applying what Infobip reports to the ledger: delivery reports, seen reports, and the
follow-ups a reported outcome has (the next step of a fallback chain for a message that was not
delivered, and the opt-out of a contact Infobip says is blocked).

Two entry points, named for their side effects:
- `campaigns.ledger.messages_apply_outcomes` moves rows forward and nothing else: sending,
  settling, suppression and the failover itself use it (they must not start a failover);
- `outcomes_apply_with_failover` (here) is the one path for outcomes Infobip *reported* (push,
  pull, logs) and for expiries Herald decides in their place (campaigns.expiry): the ledger
  write, then the fallback chain for rows that moved, then provider-error opt-outs.

`reports_apply` and `seen_apply` are the receivers infobip.processing hands parsed pushes to
(registered in campaigns.apps); they return the items whose messageId the ledger does not know,
which infobip keeps as PendingReports and retries.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from campaigns.failover import failover_after_reports
from campaigns.ledger import ApplyResult, Outcome, messages_apply_reports
from campaigns.models import Campaign, FailoverMode, Message, MessageEvent
from campaigns.status_map import message_price, state_for_status
from campaigns.suppression import contacts_suppress
from campaigns.testsend import campaign_tests_apply_reports
from contacts.models import ConsentChannel, ConsentSource
from infobip.receivers import Key
from infobip.types import DeliveryReport
from infobip.webhooks import SeenReport, canonical_message_id, clean, sane_time


def _int32(value: int | None, maximum: int = 2**31 - 1) -> int | None:
    return value if value is not None and -(2**31) <= value <= maximum else None


def _price(value: Decimal | None) -> Decimal | None:
    # Message.price is DECIMAL(14, 6): anything else is not a price Infobip sends.
    if value is None or not value.is_finite() or abs(value) >= 10**8:
        return None
    return value


def outcome_from_report(report: DeliveryReport, message_id: str) -> Outcome:
    """The ledger outcome a delivery report stands for (price, parts and error kept)."""
    # A push repeats a handful of status, error and price objects across its reports: what
    # they make of an outcome is worked out once per shape (all immutable), then reused.
    legacy = report.channel.upper() == "SMS" and _legacy_keys(tuple(report.raw))
    shape = (report.status, report.error, report.price, report.message_count, legacy)
    try:
        common = _SHAPES[shape]
    except KeyError:
        common = _outcome_fields(report, legacy)
        if len(_SHAPES) >= _SHAPES_SIZE:
            _SHAPES.clear()
        _SHAPES[shape] = common
    except TypeError:  # an unhashable value (a signalling NaN price): worked out each time
        common = _outcome_fields(report, legacy)
    return Outcome(
        message_id,
        **common,
        bulk_id=clean(report.bulk_id or "", 100),
        at=sane_time(report.done_at) or sane_time(report.sent_at),
    )


_SHAPES: dict[tuple[object, ...], dict[str, Any]] = {}
_LEGACY: dict[tuple[str, ...], bool] = {}


def _legacy_keys(keys: tuple[str, ...]) -> bool:
    """Whether a report with these keys is a legacy v2 one (`smsCount`, any casing)."""
    try:
        return _LEGACY[keys]
    except KeyError:
        pass
    except TypeError:  # keys that are not strings: not a body Infobip sent
        return any(str(k).lower() == "smscount" for k in keys)
    if len(_LEGACY) >= _SHAPES_SIZE:
        _LEGACY.clear()
    legacy = _LEGACY[keys] = any(str(k).lower() == "smscount" for k in keys)
    return legacy


_SHAPES_SIZE = 1024


def _outcome_fields(report: DeliveryReport, legacy: bool) -> dict[str, Any]:
    """The fields of an outcome that depend on the report's status, error, price and parts."""
    status, error = report.status, report.error
    parts = _int32(report.message_count, maximum=32767)
    per_message = report.price.price_per_message if report.price else None
    # A legacy v2 report (smsCount, not messageCount) prices one part; v3 the whole message.
    price = _price(message_price(per_message, per_part=legacy, parts=parts))
    return {
        "state": state_for_status(status),
        "status_group": clean(status.group_name, 32),
        "status_id": _int32(status.id),
        "status_name": clean(status.name, 64),
        "error_group": clean(error.group_name, 32) if error else "",
        "error_id": _int32(error.id) if error else None,
        "error_name": clean(error.name, 64) if error else "",
        "error_permanent": error.permanent if error else None,
        "price": price,
        "currency": clean(report.price.currency, 3) if price is not None and report.price else "",
        "parts": parts if parts and parts > 0 else None,
    }


# --- Reports ----------------------------------------------------------------------------------


def reports_apply(*, items: Sequence[tuple[Key, DeliveryReport]]) -> list[tuple[Key, str]]:
    """Apply delivery reports to the ledger in one write; returns the (key, messageId) unknown."""
    unknown: list[tuple[Key, str]] = []
    outcomes: list[Outcome] = []
    keys: dict[str, list[Key]] = defaultdict(list)
    for key, report in items:
        message_id = canonical_message_id(report.message_id)
        if message_id is None:
            unknown.append((key, report.message_id))
            continue
        outcomes.append(outcome_from_report(report, message_id))
        keys[message_id].append(key)
    result = outcomes_apply_with_failover(outcomes=outcomes)
    missing = set(result.unknown)
    if missing:
        # Not in the ledger: a campaign's test send, whose row takes its report instead.
        missing -= campaign_tests_apply_reports(
            outcomes=[o for o in outcomes if o.message_id in missing]
        )
    for message_id in result.unknown:
        if message_id in missing:
            unknown += [(key, message_id) for key in keys[message_id]]
    return unknown


def outcomes_apply_with_failover(*, outcomes: Sequence[Outcome]) -> ApplyResult:
    """Apply what Infobip reported (reports, logs, expiries): ledger, failover, opt-outs."""
    if not outcomes:
        return ApplyResult()
    result = messages_apply_reports(outcomes=outcomes)
    if not result.applied:
        return result
    # The ledger says which messages moved, with their channel and contact: no re-reading.
    changed = result.changed
    # Campaigns with a chain Herald runs: the next step for those not delivered (one primary-key
    # lookup over the batch's few campaigns; none of the rows are read again without one).
    if Campaign.objects.filter(pk__in=result.campaigns, failover_mode=FailoverMode.HERALD).exists():
        failover_after_reports(message_ids=[row[0] for row in changed.values()])
    _provider_opt_outs(outcomes, changed)
    return result


def _provider_opt_outs(outcomes: Sequence[Outcome], changed: dict[str, tuple[Any, ...]]) -> None:
    """Reports whose status or error means "blocked / opted out" opt the contact out."""
    blocking = {name.upper() for name in settings.HERALD_OPT_OUT_PROVIDER_ERRORS}
    if not blocking:
        return
    by_channel: dict[tuple[str, str], set[int]] = defaultdict(set)
    for o in outcomes:
        if o.message_id not in changed:
            continue
        name = next((n for n in (o.status_name, o.error_name) if n.upper() in blocking), None)
        contact_id = changed[o.message_id][3]
        if name and contact_id:
            by_channel[(changed[o.message_id][2], name)].add(contact_id)
    for (channel, name), contact_ids in by_channel.items():
        contacts_suppress(
            contact_ids=contact_ids,
            source=ConsentSource.PROVIDER_ERROR,
            channel=channel if channel in ConsentChannel.values else ConsentChannel.ALL,
            note=f"Infobip reported {name}",
        )


def seen_apply(*, items: Sequence[tuple[Key, SeenReport]], now: datetime) -> list[tuple[Key, str]]:
    """Record seen receipts (first one wins) with one update; returns the unknown ones."""
    unknown: list[tuple[Key, str]] = []
    wanted: dict[str, list[tuple[Key, SeenReport]]] = defaultdict(list)
    for key, seen in items:
        message_id = canonical_message_id(seen.message_id)
        if message_id is None:
            unknown.append((key, seen.message_id))
        else:
            wanted[message_id].append((key, seen))
    if not wanted:
        return unknown
    rows = {
        str(mid): (pk, seen_at)
        for pk, mid, seen_at in Message.objects.filter(
            message_id__in=[uuid.UUID(m) for m in wanted]
        ).values_list("id", "message_id", "seen_at")
    }
    updates, events = [], []
    for message_id, entries in wanted.items():
        if message_id not in rows:
            unknown += [(key, message_id) for key, _ in entries]
            continue
        pk, seen_at = rows[message_id]
        if seen_at is not None:
            continue
        first = min(sane_time(s.seen_at) or now for _, s in entries)
        updates.append(Message(id=pk, seen_at=first))
        events.append(
            MessageEvent(message_id=pk, kind=MessageEvent.Kind.SEEN, detail=first.isoformat())
        )
    Message.objects.bulk_update(updates, ["seen_at"], batch_size=1000)
    MessageEvent.objects.bulk_create(events, batch_size=1000)
    return unknown
