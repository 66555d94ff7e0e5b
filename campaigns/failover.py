"""Herald's own WhatsApp → SMS failover: one SMS attempt per recipient, linked in the ledger.

An SMS is queued when a WhatsApp attempt ends undeliverable or rejected, or gets no final
report within HERALD_FAILOVER_AFTER; a WhatsApp delivery that arrives while its SMS is still
queued cancels that SMS (skipped). The SMS is rendered from the campaign's failover text.
"""

import datetime as dt
from collections.abc import Iterable
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from campaigns.ledger import messages_skip_unclaimed
from campaigns.models import Campaign, FailoverMode, Message
from campaigns.rendering import compile_template, contact_values, sms_segments
from contacts.models import Contact

FAILOVER_STATES = ("undeliverable", "rejected", "expired")


def failover_create(*, message_ids: Iterable[int]) -> int:
    """Queue the SMS failover for these WhatsApp messages (once each); returns how many."""
    from campaigns.tasks import campaign_dispatch

    with transaction.atomic():
        # Locking the WhatsApp rows serialises concurrent report batches: one failover each.
        candidates = list(
            Message.objects.filter(
                id__in=list(message_ids),
                channel="whatsapp",
                failover__isnull=True,
                campaign__failover_mode=FailoverMode.HERALD,
            )
            .select_related("campaign")
            .select_for_update(of=("self",))
            .order_by("id")
        )
        return _create(candidates, campaign_dispatch)


def _create(candidates: list[Message], campaign_dispatch) -> int:
    if not candidates:
        return 0
    contacts = Contact.objects.in_bulk([m.contact_id for m in candidates if m.contact_id])
    new: list[Message] = []
    for original in candidates:
        campaign = original.campaign
        contact = contacts.get(original.contact_id)
        if contact is None or contact.opted_out:
            continue
        rendered = compile_template(campaign.failover_text).render(contact_values(contact))
        if rendered.missing:
            continue
        segments = sms_segments(rendered.text)
        new.append(
            Message(
                campaign=campaign,
                contact_id=original.contact_id,
                phone=original.phone,
                channel="sms",
                attempt=1,
                replaces=original,
                callback_data=original.callback_data,
                text=rendered.text,
                parts=segments.parts,
                encoding=segments.encoding,
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
        transaction.on_commit(partial(campaign_dispatch.delay, campaign_id))
    return len(new)


def failover_cancel_for_delivered(*, message_ids: Iterable[int]) -> int:
    """A WhatsApp message was delivered after all: skip its SMS failover if not yet sent."""
    queued = list(
        Message.objects.filter(replaces_id__in=list(message_ids), state="queued").values_list(
            "id", flat=True
        )
    )
    if not queued:
        return 0
    # An SMS in a batch being sent is left to it: it went, and its answer records it.
    result = messages_skip_unclaimed(
        message_ids=queued, reason="WhatsApp delivered late; SMS failover cancelled"
    )
    return result.applied


def failover_after_reports(*, message_ids: Iterable[int]) -> None:
    """Apply the failover rules to WhatsApp messages whose state just changed."""
    ids = list(message_ids)
    if not ids:
        return
    states = dict(Message.objects.filter(id__in=ids, channel="whatsapp").values_list("id", "state"))
    failed = [pk for pk, state in states.items() if state in FAILOVER_STATES]
    delivered = [pk for pk, state in states.items() if state == "delivered"]
    failover_create(message_ids=failed)
    failover_cancel_for_delivered(message_ids=delivered)


def failover_overdue(*, now: dt.datetime | None = None) -> int:
    """Fail over WhatsApp messages with no final report for longer than the configured time."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.HERALD_FAILOVER_AFTER)
    overdue = Message.objects.filter(
        channel="whatsapp",
        state="accepted",
        accepted_at__lte=cutoff,
        failover__isnull=True,
        campaign__failover_mode=FailoverMode.HERALD,
    ).values_list("id", flat=True)[:5000]
    return failover_create(message_ids=list(overdue))
