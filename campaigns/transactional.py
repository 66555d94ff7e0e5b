"""Transactional sends (the API's `POST /messages`): a ledger of their own, the same engine.

Each call becomes a campaign that is already launched and frozen: its messages are written as
ledger rows (queued, or skipped with the reason) with the counters, in one transaction, and the
usual batch chains claim and send them. So a transactional message is claimed before it is
sent (never twice), gets Herald's own messageId before any request, and its reports, prices,
clicks and replies reconcile exactly like a campaign's.
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, Channel, Message
from campaigns.rendering import sms_cap_check, sms_segments, whatsapp_text_cap_check
from campaigns.states import CampaignState
from contacts.models import Contact
from contacts.services import contacts_for_numbers
from core.queueing import enqueue_on_commit
from infobip.links import callback_data
from whatsapp.mapping import TemplateValues
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import template_check_sendable, template_render

WHATSAPP_WINDOW = dt.timedelta(hours=24)


class TransactionalError(ValueError):
    """A transactional send that cannot go out as asked (nothing was written)."""


@dataclass(frozen=True)
class TransactionalMessage:
    """One ledger row written for a transactional send."""

    phone: str
    message_id: str
    state: str
    reason: str


def messages_send_transactional(
    *,
    channel: str,
    sender: str,
    phones: list[str],
    text: str = "",
    template: WhatsAppTemplate | None = None,
    values: TemplateValues | None = None,
    respect_opt_out: bool = True,
    created_by: User | None = None,
    name: str = "",
    now: dt.datetime | None = None,
    session: dict | None = None,
) -> tuple[Campaign, list[TransactionalMessage]]:
    """Write the ledger of one transactional send (E.164 `phones`) and start sending it.

    `session` (WhatsApp text only) makes the messages an image or reply buttons
    (campaigns.whatsapp_session checked it); `text` is then their caption or body.
    """
    from campaigns.tasks import campaign_dispatch

    now = now or timezone.now()
    if channel not in Channel.values:
        raise TransactionalError(f"unknown channel {channel!r}")
    if not phones or len(set(phones)) != len(phones):
        raise TransactionalError("give each recipient once")
    if channel == Channel.WHATSAPP_TEMPLATE:
        if template is None or values is None:
            raise TransactionalError("a template send needs a template and its values")
        if problem := template_check_sendable(template=template):
            raise TransactionalError(problem)
        text = template_render(template=template, values=values)
    elif session is not None:
        if channel != Channel.WHATSAPP_TEXT:
            raise TransactionalError("images and reply buttons go by WhatsApp only")
    else:
        cap_check = sms_cap_check if channel == Channel.SMS else whatsapp_text_cap_check
        if not text.strip():
            raise TransactionalError("the text is empty")
        if problem := cap_check(text):
            raise TransactionalError(problem)
    segments = sms_segments(text) if channel == Channel.SMS else None
    ledger_channel = "sms" if channel == Channel.SMS else "whatsapp"
    with transaction.atomic():
        contact_ids = contacts_for_numbers(phones)
        contacts = {
            c["id"]: c
            for c in Contact.objects.filter(id__in=contact_ids.values()).values(
                "id", "opted_out", "whatsapp_last_inbound_at"
            )
        }
        campaign = Campaign.objects.create(
            name=(name or f"API {channel} {now:%Y-%m-%d %H:%M:%S}")[:200],
            channel=channel,
            sender=sender,
            text=text if channel != Channel.WHATSAPP_TEMPLATE else "",
            template=template,
            state=CampaignState.RUNNING,
            state_reason="transactional send (API)",
            created_by=created_by if created_by and created_by.is_authenticated else None,
            launched_at=now,
            frozen_at=now,
        )
        rows: list[Message] = []
        for phone in phones:
            contact_id = contact_ids.get(phone)
            contact = contacts.get(contact_id) if contact_id is not None else None
            state, reason = "queued", ""
            if respect_opt_out and contact and contact["opted_out"]:
                state, reason = "skipped", "opted out"
            elif channel == Channel.WHATSAPP_TEXT:
                last = contact["whatsapp_last_inbound_at"] if contact else None
                if last is None or now - last > WHATSAPP_WINDOW:
                    state = "skipped"
                    reason = "outside the WhatsApp 24-hour window (no message from them in 24 h)"
            rows.append(
                Message(
                    campaign=campaign,
                    contact_id=contact_id,
                    phone=phone,
                    channel=ledger_channel,
                    callback_data=callback_data(campaign.pk),
                    text=text,
                    template_values=(
                        values.to_dict()
                        if values is not None
                        else {"session": session}
                        if session is not None
                        else None
                    ),
                    parts=segments.parts if segments else 1,
                    encoding=segments.encoding if segments else "",
                    state=state,
                    reason=reason,
                    done_at=now if state == "skipped" else None,
                )
            )
        Message.objects.bulk_create(rows, batch_size=1000)
        queued = sum(1 for row in rows if row.state == "queued")
        Campaign.objects.filter(pk=campaign.pk).update(
            recipients=len(rows), count_queued=queued, count_skipped=len(rows) - queued
        )
        campaign.refresh_from_db()
        if queued:
            # The answer is 202 either way: the rows are the record, the task a wake-up (a
            # broker outage leaves them to the sweep, which restarts stalled campaigns).
            enqueue_on_commit(lambda: campaign_dispatch.delay(campaign.pk),
                              what=f"transactional send {campaign.pk}")  # fmt: skip
        else:
            transaction.on_commit(lambda: _complete(campaign.pk))
    return campaign, [
        TransactionalMessage(row.phone, str(row.message_id), row.state, row.reason) for row in rows
    ]


def _complete(campaign_id: int) -> None:
    from campaigns.services import campaign_maybe_complete

    campaign_maybe_complete(campaign_id=campaign_id)
