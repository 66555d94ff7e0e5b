"""Sending one batch of a campaign: claim, one Infobip request, record the answers.

Claim before send: one SendBatch row, written under the campaign-row lock, holds the batch's
ledger ids, and only this caller sends them; the ledger rows stay `queued` until Infobip's
answer moves each with one set-based write (one write per message). What happens on errors:
- 429: the batch is released (its rows are claimable again) and the sender is held for
  Retry-After (no retry spent);
- 5xx or no connection (Infobip provably has nothing): released, retried with backoff;
- a 4xx other than 429: a permanent problem with the request, the rows are `failed`;
- 401/403: nothing sent, the batch is released and the campaign pauses with the reason;
- outcome unknown (timeout after sending): the rows stay in the live batch until
  reconciliation asks Infobip's logs by messageId — they are never re-sent blindly.
"""

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from campaigns.budget import budget_reached
from campaigns.compliance import Router, recipient_values, row_country
from campaigns.ledger import (
    Claimed,
    Outcome,
    Screened,
    SentStatus,
    batch_take,
    messages_apply_outcomes,
    messages_claim,
    messages_record_sent,
)
from campaigns.models import Campaign, FailoverMode
from campaigns.opt_out_law import Footers
from campaigns.quiet import QuietHours, campaign_validity
from campaigns.rendering import compile_template, contact_values
from campaigns.states import CampaignState
from campaigns.status_map import state_for_status
from campaigns.steps import Step, campaign_steps, step_for_medium, step_sender
from campaigns.throttle import throttle_penalize, throttle_reserve
from channels.base import PROVIDER, Outbound
from contacts.models import Contact
from core.rules import SYSTEM
from infobip.bodies import url_options
from infobip.client import get_client
from infobip.errors import (
    InfobipAuthError,
    InfobipConnectionError,
    InfobipError,
    InfobipServerError,
    InfobipThrottledError,
    InfobipValidationError,
)
from infobip.links import webhook_url
from infobip.types import SendResult

logger = logging.getLogger(__name__)


# Seconds a chain waits when it has caught up with a freeze still writing the ledger.
FREEZE_POLL = 0.25


class TransientSendError(Exception):
    """Infobip could not take the batch now (5xx, connection): retry with backoff."""


@dataclass
class BatchResult:
    """What one batch did, for the task to decide what comes next."""

    claimed: int = 0
    accepted: int = 0
    failed: int = 0
    skipped: int = 0
    held: int = 0  # claimed outside quiet hours: back in the queue until the window opens
    unknown: list[int] = field(default_factory=list)  # ids left in a live batch: settle later
    wait: float = 0.0  # seconds before the next batch may go (throttle, 429)
    more: bool = False  # due queued rows remain
    marked: bool = False  # last_batch_at already set (with the send answer's counters)


def default_sender(campaign: Campaign) -> str:
    """The campaign's sender, else the configured default of its channel type."""
    return step_sender(campaign, campaign_steps(campaign)[0])


def batch_size(campaign: Campaign) -> int:
    """Rows per batch: the configured size, or less when a speed limit is lower."""
    size: int = settings.HERALD_BATCH_SIZE
    if campaign.speed_limit:
        size = min(size, campaign.speed_limit)
    return max(1, size)


def tracking_options(campaign: Campaign) -> dict[str, Any] | None:
    """Infobip's shorten-and-track options for a campaign with tracked links, else None."""
    if not campaign.track_links:
        return None
    return url_options(
        tracking_url=webhook_url("clicks"), custom_domain=settings.INFOBIP_SHORT_DOMAIN
    )


def provider_validity(step: Step) -> int | None:
    """Minutes Infobip may keep trying a step's message (types whose validity Infobip keeps)."""
    return step.validity_minutes if step.kind.validity == PROVIDER else None


def campaign_send_batch(*, campaign_id: int) -> BatchResult:
    """Claim and send one batch of a running campaign; record Infobip's answers."""
    result = BatchResult()
    now = timezone.now()
    campaign = Campaign.objects.select_related("template").get(pk=campaign_id)
    if campaign.state != CampaignState.RUNNING:
        return result
    if reason := budget_reached(campaign=campaign):
        from campaigns.services import CampaignError, campaign_pause

        # Another chain may have paused it (or an operator moved it) first: nothing to send.
        with contextlib.suppress(CampaignError):
            campaign_pause(campaign=campaign, actor=SYSTEM, reason=reason)
        return result
    steps = campaign_steps(campaign)
    if drift := steps[0].kind.sendable_problem(steps[0].content):
        from campaigns.services import campaign_pause

        campaign_pause(campaign=campaign, actor=SYSTEM, reason=f"drift guard: {drift}")
        return result
    # The campaign's sender (or its type's default) keys the throttle; with senders per
    # country each row's own comes from the router below.
    sender = step_sender(campaign, steps[0])
    router = Router(campaign, steps)
    values: dict[str, dict[int, str]] = {}  # messageId → per-recipient regional values
    size = batch_size(campaign)
    wait = throttle_reserve(sender=sender, count=size)
    if wait > 0:
        result.wait, result.more = wait, True
        return result

    def screen(picked: list[Claimed]) -> Screened:
        # Opt-outs and quiet hours, decided in the claim's transaction: the batch then holds
        # exactly the rows that will be sent.
        result.claimed = len(picked)
        if campaign.respect_opt_out:
            screened = _skip_opted_out(picked, result)
        else:  # a transactional answer confirmed as such (campaigns/transactional.py)
            screened = Screened(keep=picked, skips=[])
        screened = _skip_refused_by_country(campaign, router, screened, values, result)
        return _hold_outside_quiet_hours(campaign, screened, now, result)

    # While the freeze runs, chains that caught up poll for its next chunk (above the hint):
    # the scan from the start is for the end, when the hinted range is empty.
    rows = messages_claim(
        campaign_id=campaign.pk,
        limit=size,
        now=now,
        floor=campaign.claim_from,
        rescan=campaign.frozen_at is not None,
        screen=screen,
    )
    if not result.claimed:
        if campaign.frozen_at is None:
            # The freeze is still writing the ledger: come back for its next chunk.
            result.wait, result.more = FREEZE_POLL, True
        return result
    by_channel: dict[str, list[Claimed]] = {}
    for row in rows:
        by_channel.setdefault(row.channel, []).append(row)
    try:
        for medium, group in by_channel.items():
            _send_group(campaign, router, sender, medium, group, values, result)
    finally:
        # The send answer's write sets it with the counters; otherwise (nothing sent, an
        # error) a write of its own keeps the sweep from restarting a live chain.
        if not result.marked:
            Campaign.objects.filter(pk=campaign.pk).update(last_batch_at=timezone.now())
    # An open ledger (a journey's send step) whose claim took less than a batch has nothing
    # due left: the rows it gets next wake a chain of their own (campaigns/open_ledger.py).
    result.more = not campaign.open_ended or result.claimed >= size
    return result


def _skip_opted_out(rows: list[Claimed], result: BatchResult) -> Screened:
    # A STOP that arrived after launch takes effect for every batch not yet sent.
    skipped = [row for row in rows if row.opted_out]
    result.skipped += len(skipped)
    return Screened(
        keep=[row for row in rows if not row.opted_out] if skipped else rows,
        skips=[Outcome(r.message_id, "skipped", reason="opted out after launch") for r in skipped],
    )


def _skip_refused_by_country(
    campaign: Campaign,
    router: Router,
    screened: Screened,
    values: dict[str, dict[int, str]],
    result: BatchResult,
) -> Screened:
    # Rows a destination country would refuse (campaigns/compliance.py) are skipped with the
    # reason rather than sent: a launch refuses such campaigns, but a sender removed after
    # launch, a journey step or an API send reach here unchecked. Decided per country (a
    # handful per batch), plus one attribute query per rule that reads a contact's value.
    keep: list[Claimed] = []
    by_medium: dict[str, list[Claimed]] = {}
    for row in screened.keep:
        by_medium.setdefault(row.channel, []).append(row)
    for medium, rows in by_medium.items():
        step = step_for_medium(campaign, medium)
        countries = {row.pk: row_country(row.country, row.phone) for row in rows}
        needed = [
            (row.contact_id, countries[row.pk])
            for row in rows
            if router.recipient_rules(step, countries[row.pk])
        ]
        found = recipient_values(router, step, needed) if needed else {}
        for row in rows:
            country = countries[row.pk]
            why = "; ".join(router.problems(step, country))
            own = found.get(row.contact_id, {})
            if not why and not router.native(step):
                missing = [
                    rule.recipient_problem(router.route(step, country))
                    for index, rule in router.recipient_rules(step, country)
                    if index not in own
                ]
                why = "; ".join(missing)
            if why:
                screened.skips.append(Outcome(row.message_id, "skipped", reason=why[:500]))
                result.skipped += 1
                continue
            if own:
                values[row.message_id] = own
            keep.append(row)
    screened.keep = keep
    return screened


def _hold_outside_quiet_hours(
    campaign: Campaign, screened: Screened, now: dt.datetime, result: BatchResult
) -> Screened:
    # The freeze's `not_before` was right when it was computed; a backlog or a pause can carry
    # a row past the window's close. The same rule (every candidate zone) is applied again at
    # send, per batch from what the claim read: no query per recipient.
    quiet = QuietHours(
        start=campaign.quiet_hours_start,
        end=campaign.quiet_hours_end,
        now=now,
        validity=campaign_validity(campaign),
        since=campaign.launched_at,
    )
    if not quiet.active:
        return screened
    keep: list[Claimed] = []
    for row in screened.keep:
        opens, why = quiet.wait(phone=row.phone, country=row.country, timezone=row.zone)
        if why:
            screened.skips.append(Outcome(row.message_id, "skipped", reason=why))
            result.skipped += 1
        elif opens is not None:
            screened.holds.append((row.pk, opens))
        else:
            keep.append(row)
    result.held += len(screened.holds)
    screened.keep = keep
    screened.hold_reason = "outside quiet hours at send"
    return screened


def _send_group(
    campaign: Campaign,
    router: Router,
    sender: str,
    medium: str,
    rows: list[Claimed],
    values: dict[str, dict[int, str]],
    result: BatchResult,
) -> None:
    # The rows of one medium are one step of the campaign (its channel, or a fallback step).
    step = step_for_medium(campaign, medium)
    client = get_client()
    bulk_id = f"herald-c{campaign.pk}-m{rows[0].pk}"
    try:
        outcome = step.kind.send(
            client,
            _outbound(campaign, router, step, rows, values),
            bulk_id=bulk_id,
            tracking=tracking_options(campaign),
        )
    except InfobipThrottledError as exc:
        _release(rows, f"throttled: {exc}")
        pause = exc.retry_after or settings.HERALD_THROTTLE_BACKOFF
        throttle_penalize(sender=sender, seconds=pause)
        result.wait = max(result.wait, pause)
        return
    except (InfobipServerError, InfobipConnectionError) as exc:
        _release(rows, f"transient: {exc}")
        raise TransientSendError(str(exc)) from exc
    except InfobipAuthError as exc:
        _release(rows, f"authentication: {exc}")
        from campaigns.services import campaign_pause

        campaign_pause(
            campaign=campaign, actor=SYSTEM, reason=f"Infobip refused the credentials: {exc}"
        )
        return
    except InfobipValidationError as exc:
        _fail(rows, f"Infobip rejected the request: {exc}", result)
        return
    except InfobipError as exc:
        # Outcome unknown (or an unreadable answer): Infobip may have the messages.
        logger.warning(
            "campaign %s: outcome unknown for %d messages: %s", campaign.pk, len(rows), exc
        )
        result.unknown += [r.pk for r in rows]
        return
    if outcome.refused:
        # Refused one by one (single-recipient endpoints): those fail, the others are recorded.
        reasons = dict(outcome.refused)
        for reason, group in _by_reason(rows, reasons).items():
            _fail(group, reason, result)
        rows = [row for row in rows if row.message_id not in reasons]
    _record(campaign.pk, outcome.result, rows, bulk_id, result)


def _by_reason(rows: list[Claimed], reasons: dict[str, str]) -> dict[str, list[Claimed]]:
    grouped: dict[str, list[Claimed]] = {}
    for row in rows:
        if row.message_id in reasons:
            grouped.setdefault(reasons[row.message_id], []).append(row)
    return grouped


def _outbound(
    campaign: Campaign,
    router: Router,
    step: Step,
    rows: list[Claimed],
    values: dict[str, dict[int, str]],
) -> list[Outbound]:
    """The rows as the step's type sends them: each from its country's sender, with its
    country's regional fields (the body builder groups rows that share them)."""
    notify = webhook_url(step.kind.report_path)
    validity = provider_validity(step)
    native = _native_fallback(campaign, router, step, rows)
    outbound = []
    for row in rows:
        country = row_country(row.country, row.phone)
        outbound.append(
            Outbound(
                to=row.phone.lstrip("+"),
                message_id=row.message_id,
                text=row.text,
                sender=router.route(step, country).sender,
                notify_url=notify,
                callback_data=row.callback_data,
                values=row.template_values,
                validity_minutes=validity,
                content=step.content,
                sms_failover=native.get(row.contact_id),
                options=router.options(step, country, values.get(row.message_id, {})),
            )
        )
    return outbound


def _native_fallback(
    campaign: Campaign, router: Router, step: Step, rows: list[Claimed]
) -> dict[int | None, tuple[str, str]]:
    """contact id → (sender, text) of Infobip's own failover on the same request, if used."""
    if campaign.failover_mode != FailoverMode.INFOBIP or step.position != 0:
        return {}
    steps = campaign_steps(campaign)
    if len(steps) < 2 or steps[1].kind.name not in step.kind.native_fallback:
        return {}
    fallback = steps[1]
    template = compile_template(fallback.content.text)
    footers = Footers(campaign, fallback)
    contacts = Contact.objects.in_bulk([row.contact_id for row in rows if row.contact_id])
    native: dict[int | None, tuple[str, str]] = {}
    for row in rows:
        contact = contacts.get(row.contact_id) if row.contact_id else None
        text = template.render(contact_values(contact) if contact else {}).text
        if contact is not None and footers.active:
            text = footers.apply(text, contact)  # Infobip's SMS failover is an SMS too
        country = row_country(row.country, row.phone)
        native[row.contact_id] = (router.route(fallback, country).sender, text)
    return native


def _release(rows: list[Claimed], reason: str) -> None:
    # Infobip provably has none of them: out of the batch, claimable again.
    if rows and rows[0].batch_id is not None:
        batch_take(batch_id=rows[0].batch_id, message_ids=[r.pk for r in rows], released=reason)


def _fail(rows: list[Claimed], reason: str, result: BatchResult) -> None:
    with transaction.atomic():
        messages_apply_outcomes(
            outcomes=[Outcome(row.message_id, "failed", reason=reason[:500]) for row in rows]
        )
        if rows and rows[0].batch_id is not None:
            batch_take(batch_id=rows[0].batch_id, message_ids=[r.pk for r in rows])
    result.failed += len(rows)


def _record(
    campaign_id: int, answer: SendResult, rows: list[Claimed], bulk_id: str, result: BatchResult
) -> None:
    by_id = {row.message_id: row for row in rows}
    kinds: dict[int, SentStatus] = {}  # Status objects are shared per shape: one each
    sent: list[tuple[Claimed, SentStatus, int | None]] = []
    strangers: list[Outcome] = []
    answered = set()
    for message in answer.messages:
        status = message.status
        kind = kinds.get(id(status))
        if kind is None:
            state = state_for_status(status)
            kind = kinds[id(status)] = SentStatus(
                state,
                status.group_name,
                status.id,
                status.name,
                "" if state == "accepted" else status.description[:500],
            )
        if kind.state == "accepted":
            result.accepted += 1
        row = by_id.get(message.message_id)
        if row is None:
            strangers.append(
                Outcome(
                    message.message_id,
                    kind.state,
                    status_group=kind.status_group,
                    status_id=kind.status_id,
                    status_name=kind.status_name,
                    parts=message.message_count,
                    bulk_id=answer.bulk_id or bulk_id,
                    reason=kind.reason,
                )
            )
            continue
        answered.add(message.message_id)
        sent.append((row, kind, message.message_count))
    record = messages_record_sent(
        campaign_id=campaign_id,
        sent=sent,
        bulk_id=answer.bulk_id or bulk_id,
        batch_id=rows[0].batch_id if rows else None,
    )
    result.marked = result.marked or record.marked
    # Rows Infobip's answer does not mention: unknown, settled by reconciliation.
    result.unknown += [r.pk for r in rows if r.message_id not in answered]
    unknown = record.unknown
    if strangers:
        unknown = unknown + messages_apply_outcomes(outcomes=strangers).unknown
    if unknown:
        logger.error("send answer named message ids Herald never sent: %s", unknown[:5])
