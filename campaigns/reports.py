"""The report sweeper (beat `infobip.tasks.reconcile_reports`, command `reconcile_reports`).

Pushes may come late or never, so every run:
1. pulls `/sms/3/reports` and `/messages-api/1/reports?channel=WHATSAPP` until they are empty
   (infobip.sweeper: each page is stored, then processed like a push);
2. settles rows stuck in `sending` from Infobip's SMS logs (campaigns.reconcile.messages_settle);
3. looks accepted SMS still without a final report up in the SMS logs, once at each age of
   HERALD_REPORT_LOG_CHECKS (1 h, then 47 h: the logs keep 48 h). With `--campaign`, every
   such SMS of the campaign is looked up instead;
4. gives up on messages with no final report HERALD_REPORT_GIVE_UP_AFTER (49 h) after sending
   (the one expiry path, campaigns.expiry);
5. processes leftover events, retries unknown reports, prunes, and records the figures.

Messages that never get a final report. Infobip's validity period is at most 48 hours: by then
Infobip has delivered the message or expired it itself, and its reports and logs of the message
are gone (both are kept 48 hours). A message still `accepted` 49 hours after sending can
therefore never learn more, so Herald moves it to `expired` (status NO_FINAL_REPORT, reason "no
final report from Infobip within 49 h"): the campaign's counts add up, and a WhatsApp message
gets its SMS failover. A real report that still arrives later is recorded as an event, but a
final state never changes. Leaving such rows `accepted` forever was rejected: the campaign
would never add up and operators could not tell "still in flight" from "lost".

The lag figure (ReportHealth, `reconcile_reports --json`): `missing_reports` counts accepted
messages sent more than HERALD_REPORT_LAG_AFTER ago, and `lag_seconds` is the time since the
last report push while some are missing. Both rising means pushes stopped arriving.
"""

import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from campaigns.expiry import messages_expire
from campaigns.ledger import unsettled_campaign_ids
from campaigns.models import Message
from campaigns.outcomes import outcomes_apply_with_failover
from campaigns.reconcile import messages_settle, outcome_from_log, with_logs
from channels.registry import messages_api_pulls
from infobip.client import get_client
from infobip.errors import InfobipError
from infobip.models import ReportHealth
from infobip.processing import events_backlog, pending_retry
from infobip.sweeper import events_prune, push_health, reports_pull
from infobip.webhooks import canonical_message_id

logger = logging.getLogger(__name__)
ROW_LIMIT = 5000  # messages looked up or expired per step and run
LOGS_KEPT = timedelta(hours=48)
NO_FINAL_REPORT = "NO_FINAL_REPORT"


@dataclass
class SweepResult:
    """What one sweeper run did, and the report-flow figures it measured."""

    pulled_sms: int = 0
    pulled_whatsapp: int = 0
    # Other Messages API channels (Infobip's names: VIBER_BM, RCS…) → reports pulled.
    pulled_other: dict[str, int] = field(default_factory=dict)
    settled: int = 0
    requeued: int = 0
    log_checked: int = 0
    log_applied: int = 0
    expired: int = 0
    backlog_events: int = 0
    unknown_resolved: int = 0
    unknown_flagged: int = 0
    errors: list[str] = field(default_factory=list)
    health: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def pulled_total(self) -> int:
        return self.pulled_sms + self.pulled_whatsapp + sum(self.pulled_other.values())

    def summary(self) -> str:
        h = self.health
        lag = h.get("lag_seconds")
        others = "".join(f" {k.lower()}={v}" for k, v in self.pulled_other.items() if v)
        return (
            f"pulled={self.pulled_total} (sms={self.pulled_sms} "
            f"whatsapp={self.pulled_whatsapp}{others}) settled={self.settled} "
            f"log_checked={self.log_checked} expired={self.expired} "
            f"missing_reports={h.get('missing_reports', 0)} "
            f"lag={'-' if lag is None else f'{lag}s'} errors={len(self.errors)}"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reports_reconcile(
    *, campaign_id: int | None = None, now: datetime | None = None
) -> SweepResult:
    """Pull reports, settle and look up silent messages, give up on lost ones, measure."""
    now = now or timezone.now()
    result = SweepResult()
    pulled = reports_pull(errors=result.errors, messages_api=messages_api_pulls())
    result.pulled_sms = pulled.pop("SMS", 0)
    result.pulled_whatsapp = pulled.pop("WHATSAPP", 0)
    result.pulled_other = pulled
    # Stale batches (and rows claimed `sending` before batch claims), of one campaign or all.
    settled = messages_settle(now=now, campaign_id=campaign_id)
    result.settled, result.requeued = settled.found, settled.requeued
    _log_checks(now, campaign_id, result)
    result.expired = messages_give_up(now=now, campaign_id=campaign_id)
    result.backlog_events = events_backlog().events
    result.unknown_resolved, result.unknown_flagged = pending_retry(now=now)
    result.health = report_health(now=now, campaign_id=campaign_id)
    if campaign_id is None:
        _record(now, result)
        events_prune(now=now)
    return result


def _log_checks(now: datetime, campaign_id: int | None, result: SweepResult) -> None:
    """Look silent accepted SMS up in Infobip's logs (each once per checkpoint age)."""
    rows = Message.objects.filter(
        campaign_id__in=unsettled_campaign_ids(), channel__in=with_logs(), state="accepted"
    )
    if campaign_id is not None:
        lag = timedelta(seconds=settings.HERALD_REPORT_LAG_AFTER)
        selections = [
            rows.filter(
                campaign_id=campaign_id, claimed_at__lte=now - lag, claimed_at__gt=now - LOGS_KEPT
            )
        ]
    else:
        previous = ReportHealth.objects.order_by("-measured_at").values_list(
            "measured_at", flat=True
        )
        since = previous.first() or now - timedelta(seconds=settings.HERALD_RECONCILE_INTERVAL)
        since = max(since, now - timedelta(hours=6))  # a long outage: recent rows first
        selections = [
            rows.filter(
                claimed_at__gt=since - timedelta(seconds=age),
                claimed_at__lte=now - timedelta(seconds=age),
            )
            for age in settings.HERALD_REPORT_LOG_CHECKS
        ]
    message_ids: list[str] = []
    for selection in selections:
        remaining = ROW_LIMIT - len(message_ids)
        if remaining <= 0:
            break
        found = selection.order_by("claimed_at").values_list("message_id", flat=True)
        message_ids += [str(mid) for mid in found[:remaining]]
    if not message_ids:
        return
    try:
        logs = get_client().get_sms_logs(message_ids=message_ids)
    except InfobipError as exc:
        result.errors.append(f"sms logs: {exc}")
        logger.warning("looking up %d silent SMS in the logs failed: %s", len(message_ids), exc)
        return
    result.log_checked = len(message_ids)
    outcomes = []
    for log in logs:
        message_id = canonical_message_id(log.message_id)
        if message_id is not None:
            outcomes.append(replace(outcome_from_log(log), message_id=message_id))
    result.log_applied = outcomes_apply_with_failover(outcomes=outcomes).applied


def messages_give_up(*, now: datetime, campaign_id: int | None = None) -> int:
    """Accepted messages with no final report long after Infobip's validity: `expired`."""
    cutoff = now - timedelta(seconds=settings.HERALD_REPORT_GIVE_UP_AFTER)
    hours = settings.HERALD_REPORT_GIVE_UP_AFTER // 3600
    rows = Message.objects.filter(campaign_id__in=unsettled_campaign_ids(), state="accepted")
    rows = rows.filter(
        Q(claimed_at__lte=cutoff) | Q(claimed_at__isnull=True, accepted_at__lte=cutoff)
    )
    if campaign_id is not None:
        rows = rows.filter(campaign_id=campaign_id)
    total = 0
    for _round in range(20):
        ids = list(rows.order_by("id").values_list("message_id", flat=True)[:ROW_LIMIT])
        if not ids:
            break
        applied = messages_expire(
            message_ids=ids,
            status_name=NO_FINAL_REPORT,
            reason=f"no final report from Infobip within {hours} h (validity is 48 h)",
            now=now,
        )
        total += applied
        if not applied:
            break
    return total


def report_health(*, now: datetime, campaign_id: int | None = None) -> dict[str, Any]:
    """The report-flow figures: last pushes, missing reports, lag, backlog, unknown reports."""
    lag_after = now - timedelta(seconds=settings.HERALD_REPORT_LAG_AFTER)
    missing = Message.objects.filter(
        campaign_id__in=unsettled_campaign_ids(), state="accepted", claimed_at__lte=lag_after
    )
    if campaign_id is not None:
        missing = missing.filter(campaign_id=campaign_id)
    count = missing.count()
    oldest = missing.order_by("claimed_at").values_list("claimed_at", flat=True).first()
    pushes = push_health()
    last_report = pushes["last_report_push_at"]
    lag = None
    if count:
        since = last_report or oldest
        lag = max(0, int((now - since).total_seconds())) if since else None
    return {
        "measured_at": now.isoformat(),
        "last_report_push_at": _iso(last_report),
        "last_inbound_push_at": _iso(pushes["last_inbound_push_at"]),
        "missing_reports": count,
        "oldest_missing_at": _iso(oldest),
        "lag_seconds": lag,
        "backlog": pushes["backlog"],
        "failed_events": pushes["failed_events"],
        "pending_unknown": pushes["pending_unknown"],
        "flagged_unknown": pushes["flagged_unknown"],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _record(now: datetime, result: SweepResult) -> ReportHealth:
    h = result.health
    if h.get("lag_seconds") and h["missing_reports"]:
        logger.warning(
            "%d messages wait for a report; last report push %s",
            h["missing_reports"],
            h["last_report_push_at"] or "never",
        )
    return ReportHealth.objects.create(
        measured_at=now,
        last_report_push_at=_parse(h["last_report_push_at"]),
        last_inbound_push_at=_parse(h["last_inbound_push_at"]),
        missing_reports=h["missing_reports"],
        oldest_missing_at=_parse(h["oldest_missing_at"]),
        lag_seconds=h["lag_seconds"],
        pulled=result.pulled_total,
        settled=result.settled,
        expired=result.expired,
        backlog=h["backlog"],
        failed_events=h["failed_events"],
        pending_unknown=h["pending_unknown"],
        flagged_unknown=h["flagged_unknown"],
        details={k: v for k, v in result.as_dict().items() if k != "health"},
    )


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
