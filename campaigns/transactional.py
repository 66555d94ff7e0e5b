"""Transactional sends (the API's `POST /messages`): a ledger of their own, the same engine.

Each call becomes a campaign that is already launched and frozen: its messages are written as
ledger rows (queued, or skipped with the reason) with the counters, in one transaction, and the
usual batch chains claim and send them. So a transactional message is claimed before it is
sent (never twice), gets Herald's own messageId before any request, and its reports, prices,
clicks and replies reconcile exactly like a campaign's.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from campaigns.compliance import Router, row_country
from campaigns.models import Campaign, Message
from campaigns.states import CampaignState
from channels.base import Button, Content, Regional
from channels.registry import UnknownChannel, channel_type
from contacts.models import Contact
from contacts.services import contacts_for_numbers
from core.queueing import enqueue_on_commit
from infobip.links import callback_data
from whatsapp.mapping import TemplateValues
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import template_render


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
    media_url: str = "",
    buttons: Sequence[Button] = (),
    respect_opt_out: bool = True,
    regional: Regional | None = None,
    created_by: User | None = None,
    name: str = "",
    reason: str = "transactional send (API)",
    now: dt.datetime | None = None,
) -> tuple[Campaign, list[TransactionalMessage]]:
    """Write the ledger of one transactional send (E.164 `phones`) and start sending it."""
    from campaigns.tasks import campaign_dispatch

    now = now or timezone.now()
    regional = regional or Regional()
    try:
        kind = channel_type(channel)
    except UnknownChannel as exc:
        raise TransactionalError(str(exc)) from None
    if not phones or len(set(phones)) != len(phones):
        raise TransactionalError("give each recipient once")
    content = Content(text=text, template=template, media_url=media_url, buttons=tuple(buttons))
    if kind.uses_template:
        if template is None or values is None:
            raise TransactionalError("a template send needs a template and its values")
        if problem := kind.sendable_problem(content):
            raise TransactionalError(problem)
        text = template_render(template=template, values=values)
    elif problems := kind.content_problems(content):
        raise TransactionalError(problems[0])
    parts, encoding = kind.measure(text) if not kind.uses_template else (1, "")
    with transaction.atomic():
        contact_ids = contacts_for_numbers(phones)
        fields = [
            "id",
            "opted_out",
            "country",
            *([kind.session_field] if kind.session_field else []),
        ]
        contacts = {
            c["id"]: c for c in Contact.objects.filter(id__in=contact_ids.values()).values(*fields)
        }
        campaign = Campaign.objects.create(
            name=(name or f"API {channel} {now:%Y-%m-%d %H:%M:%S}")[:200],
            channel=channel,
            sender=sender,
            text="" if kind.uses_template else text,
            template=template,
            media_url=media_url,
            buttons=[b.to_dict() for b in buttons],
            state=CampaignState.RUNNING,
            state_reason=reason[:500],
            respect_opt_out=respect_opt_out,
            # Transactional: outside rules on promotional messages (Turkey's IYS).
            promotional=False,
            dlt_template_id=regional.dlt_template_id,
            iys_recipient_type=regional.iys_recipient_type,
            kr_title=regional.kr_title,
            created_by=created_by if created_by and created_by.is_authenticated else None,
            launched_at=now,
            frozen_at=now,
        )
        # Each recipient's country decides its sender (auto) and what it would refuse.
        router = Router(campaign)
        step = router.steps[0]
        rows: list[Message] = []
        for phone in phones:
            contact_id = contact_ids.get(phone)
            contact = contacts.get(contact_id) if contact_id is not None else None
            state, reason = "queued", ""
            if respect_opt_out and contact and contact["opted_out"]:
                state, reason = "skipped", "opted out"
            elif kind.session_field and (
                why := kind.session_skip(contact[kind.session_field] if contact else None, now)
            ):
                state, reason = "skipped", why
            elif problems := router.problems(
                step, row_country(contact["country"] if contact else "", phone)
            ):
                state, reason = "skipped", "; ".join(problems)[:500]
            rows.append(
                Message(
                    campaign=campaign,
                    contact_id=contact_id,
                    phone=phone,
                    channel=kind.ledger,
                    callback_data=callback_data(campaign.pk),
                    text=text,
                    template_values=values.to_dict() if values is not None else None,
                    parts=parts,
                    encoding=encoding,
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
            enqueue_on_commit(
                lambda: campaign_dispatch.delay(campaign.pk),
                what=f"transactional send {campaign.pk}",
            )
        else:
            transaction.on_commit(lambda: _complete(campaign.pk))
    return campaign, [
        TransactionalMessage(row.phone, str(row.message_id), row.state, row.reason) for row in rows
    ]


def _complete(campaign_id: int) -> None:
    from campaigns.services import campaign_maybe_complete

    campaign_maybe_complete(campaign_id=campaign_id)
