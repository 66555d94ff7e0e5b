"""Herald's own fallback chain: the next step for whoever a step did not reach, once each.

A campaign's steps are its channel then its fallback steps (campaigns.steps): WhatsApp → SMS,
RCS → SMS, Viber → RCS → SMS. When a message of a step that has a step after it ends
undeliverable, rejected or expired, or gets no final report within the fallback window, the
next step's message is queued, linked to it in the ledger (`replaces`), rendered from that
step's text (the campaign's text when it has none); a delivery that arrives while that message
is still queued cancels it (skipped). Each message is followed at most once (the ledger's
`one_failover_per_message`), so exactly the undelivered get the next step, and nobody twice;
a follow-up carries its original's `attempt`, so a contact's later attempts on the same
campaign (a journey's second entry, a resend) each have their own chain.
"""

import datetime as dt
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from campaigns.ledger import messages_skip_unclaimed
from campaigns.models import Campaign, FailoverMode, Message
from campaigns.opt_out_law import Footers
from campaigns.rendering import Template, compile_template, contact_values
from campaigns.steps import Step, chain_waits_on, fallback_window, next_step
from contacts.models import Contact
from core.queueing import enqueue_on_commit

FAILOVER_STATES = ("undeliverable", "rejected", "expired")
ROW_LIMIT = 5000


def failover_create(*, message_ids: Iterable[int]) -> int:
    """Queue the next step for these messages (once each, where a next step exists)."""
    from campaigns.tasks import campaign_dispatch

    with transaction.atomic():
        # Locking the rows serialises concurrent report batches: one follow-up each.
        candidates = list(
            Message.objects.filter(
                id__in=list(message_ids),
                failover__isnull=True,
                campaign__failover_mode=FailoverMode.HERALD,
            )
            .select_related("campaign")
            .select_for_update(of=("self",))
            .order_by("id")
        )
        return _create(candidates, campaign_dispatch)


def _create(candidates: list[Message], campaign_dispatch: Any) -> int:
    if not candidates:
        return 0
    contacts = Contact.objects.in_bulk([m.contact_id for m in candidates if m.contact_id])
    new: list[Message] = []
    steps: dict[tuple[int, str], tuple[Step | None, Template | None, Footers | None]] = {}
    for original in candidates:
        campaign = original.campaign
        key = (campaign.pk, original.channel)
        if key not in steps:
            step = next_step(campaign, original.channel)
            text = (step.content.text or campaign.text) if step else ""
            steps[key] = (
                step,
                compile_template(text) if step else None,
                Footers(campaign, step) if step else None,
            )
        step, template, footers = steps[key]
        if step is None or template is None:
            continue  # the last step: nothing follows
        contact = contacts.get(original.contact_id)
        if contact is None or contact.opted_out:
            continue
        rendered = template.render(contact_values(contact))
        if rendered.missing:
            continue
        # An SMS step carries the opt-out wording the recipient's country asks for.
        text = (
            footers.apply(rendered.text, contact) if footers and footers.active else rendered.text
        )
        parts, encoding = step.kind.measure(text)
        new.append(
            Message(
                campaign=campaign,
                contact_id=original.contact_id,
                phone=original.phone,
                channel=step.medium,
                # The original's attempt: a journey's second entry (or a resend) is a later
                # attempt of the same contact on this campaign, and its fallback one too —
                # attempt 1 would collide with the first entry's fallback on the ledger's
                # (campaign, contact, channel, attempt) constraint.
                attempt=original.attempt,
                replaces=original,
                callback_data=original.callback_data,
                text=text,
                parts=parts,
                encoding=encoding,
                state="queued",
                # The failover is the same variant's message: nobody gets two variants.
                variant=original.variant,
                split_group=original.split_group,
            )
        )
    if not new:
        return 0
    Message.objects.bulk_create(new, batch_size=1000)
    per_campaign: dict[int, int] = {}
    for message in new:
        per_campaign[message.campaign_id] = per_campaign.get(message.campaign_id, 0) + 1
    for campaign_id, n in per_campaign.items():
        Campaign.objects.filter(pk=campaign_id).update(count_queued=F("count_queued") + n)
        enqueue_on_commit(
            partial(campaign_dispatch.delay, campaign_id), what=f"campaign {campaign_id} failover"
        )
    return len(new)


def failover_cancel_for_delivered(*, message_ids: Iterable[int]) -> int:
    """A message was delivered after all: skip its follow-up if not yet sent."""
    queued = list(
        Message.objects.filter(replaces_id__in=list(message_ids), state="queued").values_list(
            "id", flat=True
        )
    )
    if not queued:
        return 0
    # A follow-up in a batch being sent is left to it: it went, and its answer records it.
    result = messages_skip_unclaimed(
        message_ids=queued, reason="the previous step delivered late; fallback cancelled"
    )
    return result.applied


def failover_after_reports(*, message_ids: Iterable[int]) -> None:
    """Apply the chain's rules to messages whose state just changed."""
    ids = list(message_ids)
    if not ids:
        return
    states = dict(
        Message.objects.filter(id__in=ids, campaign__failover_mode=FailoverMode.HERALD).values_list(
            "id", "state"
        )
    )
    failed = [pk for pk, state in states.items() if state in FAILOVER_STATES]
    delivered = [pk for pk, state in states.items() if state == "delivered"]
    failover_create(message_ids=failed)
    failover_cancel_for_delivered(message_ids=delivered)


def failover_overdue(*, now: dt.datetime | None = None) -> int:
    """The next step for messages with no final report within their campaign's window."""
    now = now or timezone.now()
    total = 0
    campaigns = Campaign.objects.filter(
        failover_mode=FailoverMode.HERALD, count_accepted__gt=0
    ).only("id", "channel", "text", "template_id", "failover_mode", "failover_after", "fallback")
    for campaign in campaigns:
        waits_on = chain_waits_on(campaign)
        if not waits_on:
            continue
        cutoff = now - fallback_window(campaign)
        overdue = Message.objects.filter(
            campaign_id=campaign.pk,
            channel__in=waits_on,
            state="accepted",
            accepted_at__lte=cutoff,
            failover__isnull=True,
        ).values_list("id", flat=True)[:ROW_LIMIT]
        total += failover_create(message_ids=list(overdue))
    return total
