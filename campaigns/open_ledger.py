"""Open-ended campaigns: a ledger that grows while it runs (a journey's send step).

A journey sends through the same ledger, claims and batches as a campaign: each send step of
a journey version has one hidden campaign, launched and frozen when the version is activated
and `open_ended`, so it never completes by itself. The journey engine appends its due
messages to it (`messages_append`) in the same transaction as the journey's own step rows —
so a crash loses both or neither — and the usual batch chains claim and send them: 10,000
contacts due in the same minute are ten Infobip requests, each message claimed before it is
sent and never sent twice. Reports, prices, clicks and replies land as for any campaign.
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import F
from django.utils import timezone
from psycopg import sql

from campaigns.models import Campaign, FailoverMode, Message
from campaigns.states import CampaignState
from channels.base import Regional
from core.throttle import once_release, wake_once
from infobip.links import callback_data
from whatsapp.models import WhatsAppTemplate

# A wake-up whose task was lost (a purged queue, a broker outage) expires after this; the
# campaigns' sweep restarts a stalled chain behind it.
WAKE_TTL = 10


def _wake_key(campaign_id: int) -> str:
    return f"campaigns:send-wake:{campaign_id}"


def _eager() -> bool:
    from campaigns.tasks import send_batch

    return bool(send_batch.app.conf.task_always_eager)


def open_ledger_wake(*, campaign_id: int) -> bool:
    """Queue a send batch of an open campaign unless one is queued (call after the commit)."""
    from campaigns.tasks import send_batch

    return wake_once(_wake_key(campaign_id), WAKE_TTL, send_batch, campaign_id, inline=_eager())


def open_ledger_woken(*, campaign_id: int) -> None:
    """A send batch took the wake-up (call it before claiming rows)."""
    once_release(_wake_key(campaign_id))


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One ledger row to append: a recipient's rendered message, queued or skipped."""

    contact_id: int
    phone: str
    attempt: int
    text: str
    template_values: dict[str, Any] | None
    parts: int
    encoding: str
    state: str  # queued | skipped
    reason: str = ""
    # Appended to the campaign's callbackData (`;entry=7`): the message's own origin, which
    # Infobip hands back with its reports and Herald's parser ignores past the `;`.
    callback_suffix: str = ""


@dataclass(frozen=True, slots=True)
class Appended:
    """A ledger row just appended: its primary key and messageId."""

    contact_id: int
    attempt: int
    pk: int
    message_id: str


def open_campaign_create(
    *,
    name: str,
    channel: str,
    sender: str = "",
    text: str = "",
    template: WhatsAppTemplate | None = None,
    template_mapping: dict[str, Any] | None = None,
    quiet_hours: tuple[dt.time, dt.time] | None = None,
    track_links: bool = False,
    frequency_cap_override: bool = False,
    created_by: User | None = None,
    regional: Regional | None = None,
    fallback: list[dict[str, Any]] | None = None,
    failover_after: dt.timedelta | None = None,
) -> Campaign:
    """A running, frozen, open-ended campaign that messages are appended to as they fall due.

    With a `fallback` chain (campaigns/steps.py) Herald runs it (campaigns/failover.py): whoever
    a step did not reach gets the next step, once.
    """
    regional = regional or Regional()
    now = timezone.now()
    return Campaign.objects.create(
        name=name[:200],
        channel=channel,
        sender=sender,
        text=text,
        template=template,
        template_mapping=template_mapping or {},
        quiet_hours_start=quiet_hours[0] if quiet_hours else None,
        quiet_hours_end=quiet_hours[1] if quiet_hours else None,
        track_links=track_links,
        frequency_cap_override=frequency_cap_override,
        failover_mode=FailoverMode.HERALD if fallback else FailoverMode.NONE,
        fallback=fallback or [],
        failover_after=failover_after if fallback else None,
        # Countries' rules (docs/COUNTRIES.md): rows a country would refuse are skipped at send.
        dlt_template_id=regional.dlt_template_id,
        iys_recipient_type=regional.iys_recipient_type,
        kr_title=regional.kr_title,
        state=CampaignState.RUNNING,
        state_reason="journey send step",
        created_by=created_by if created_by and created_by.is_authenticated else None,
        launched_at=now,
        frozen_at=now,
        open_ended=True,
    )


# Appends a chunk of rows in one statement from one JSON parameter (psycopg adapts a Python
# list element by element; orjson and PostgreSQL's jsonb_to_recordset do it ~8× cheaper for the
# client), and reads back each row's key: the journey links its step rows to them. The
# (campaign, contact, channel, attempt) unique constraint refuses a second row for the same
# entry and step, which the journey's own ledger already makes impossible.
_APPEND = sql.SQL(
    """
    INSERT INTO {messages} (
        campaign_id, contact_id, phone, channel, attempt, message_id, callback_data, bulk_id,
        text, template_values, parts, encoding, state, reason, status_group, status_name,
        error_group, error_name, currency, created_at, done_at)
    SELECT %(campaign)s, r.contact_id, r.phone, %(channel)s, r.attempt, r.message_id,
        %(callback)s || r.suffix, '', r.text, r.template_values, r.parts, r.encoding,
        r.state, r.reason, '', '', '', '', '', %(now)s,
        CASE WHEN r.state = 'skipped' THEN %(now)s END
    FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(contact_id bigint, phone text, attempt int,
        message_id uuid, text text, template_values jsonb, parts int, encoding text,
        state text, reason text, suffix text)
    RETURNING contact_id, attempt, id, message_id::text
    """
)


def messages_append(
    *, campaign_id: int, channel: str, rows: Sequence[NewMessage], now: dt.datetime | None = None
) -> list[Appended]:
    """Append rows to an open-ended campaign's ledger with its counters (caller's transaction)."""
    if not rows:
        return []
    now = now or timezone.now()
    queued = sum(1 for row in rows if row.state == "queued")
    params = {
        "campaign": campaign_id,
        "channel": channel,
        "callback": callback_data(campaign_id),
        "now": now,
        "rows": orjson.dumps(
            [
                {
                    "contact_id": r.contact_id,
                    "phone": r.phone,
                    "attempt": r.attempt,
                    "message_id": uuid.uuid4(),
                    "text": r.text,
                    "template_values": r.template_values,
                    "parts": r.parts,
                    "encoding": r.encoding,
                    "state": r.state,
                    "reason": r.reason[:500],
                    "suffix": r.callback_suffix,
                }
                for r in rows
            ]
        ).decode(),
    }
    statement = _APPEND.format(messages=sql.Identifier(Message._meta.db_table))
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(statement, params)
        appended = [Appended(*row) for row in cursor.fetchall()]
    Campaign.objects.filter(pk=campaign_id).update(
        recipients=F("recipients") + len(rows),
        count_queued=F("count_queued") + queued,
        count_skipped=F("count_skipped") + len(rows) - queued,
    )
    return appended
