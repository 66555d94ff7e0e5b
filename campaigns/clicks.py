"""Clicks on tracked links (Infobip's URL tracking), linked to their message and campaign.

`clicks_store` is the receiver infobip.processing hands parsed click notifications to
(registered in campaigns.apps; infobip.processing drops exact repeats before). The Click rows
live in infobip's tables (infobip.models.Click), as received.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.db import connection
from django.db.models import Count, Max, Min

from campaigns.link_tokens import link_untag
from campaigns.models import Campaign, Message
from infobip import signals
from infobip.links import campaign_from_callback
from infobip.models import Click
from infobip.receivers import Key
from infobip.webhooks import ClickNotification, canonical_message_id, clean, sane_time


def clicks_store(*, items: Sequence[tuple[Key, ClickNotification, datetime]]) -> int:
    """Store click notifications (once per event position), linked to message and campaign."""
    ids = {canonical_message_id(c.message_id) for _, c, _ in items} - {None}
    messages = {
        str(mid): (pk, campaign_id, contact_id)
        for pk, mid, campaign_id, contact_id in Message.objects.filter(
            message_id__in=[uuid.UUID(m) for m in ids]
        ).values_list("id", "message_id", "campaign_id", "contact_id")
    }
    named = {n for _, c, _ in items if (n := campaign_from_callback(c.callback_data)) is not None}
    campaigns = set(Campaign.objects.filter(id__in=named).values_list("id", flat=True))
    rows = []
    for (event_id, index), click, received_at in items:
        message = messages.get(canonical_message_id(click.message_id) or "")
        campaign_id = message[1] if message else campaign_from_callback(click.callback_data)
        rows.append(
            Click(
                event_id=event_id,
                index=index,
                campaign_id=campaign_id if (message or campaign_id in campaigns) else None,
                message_id=message[0] if message else None,
                # The ledger row's contact: attribution finds a contact's clicks by it.
                contact_id=message[2] if message else None,
                infobip_message_id=clean(click.message_id, 200),
                # Without the conversion token (campaigns.link_tokens): one link is one URL in
                # the counts, whoever clicked it; the raw notification keeps it.
                url=link_untag(clean(click.url)),
                recipient=clean(click.recipient, 64),
                clicked_at=received_at,
                sent_at=sane_time(click.sent_at),
                device_type=clean(click.device_type, 64),
                os=clean(click.os, 64),
                device_name=clean(click.device_name, 64),
                country=clean(click.country, 64),
                city=clean(click.city, 64),
                raw=clean(click.raw),
            )
        )
    Click.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    signals.links_clicked.send(Click, event_keys=[(r.event_id, r.index) for r in rows])
    return len(rows)


def campaign_click_counts(*, campaign_id: int) -> dict[str, int]:
    """Clicks of a campaign's links: all of them, and distinct messages clicked."""
    counts = Click.objects.filter(campaign_id=campaign_id).aggregate(
        clicks=Count("id"), messages=Count("message", distinct=True)
    )
    return {"clicks": counts["clicks"], "messages": counts["messages"]}


# The statement of infobip's migration 0006 (which copies it: migrations are frozen): each click
# of an id range without a contact gets its ledger row's, one short transaction a range.
CONTACTS_FILL_SQL = """
    UPDATE infobip_click c SET contact_id = m.contact_id
      FROM campaigns_message m
     WHERE m.id = c.message_id AND c.id >= %(start)s AND c.id < %(stop)s
       AND c.contact_id IS NULL AND m.contact_id IS NOT NULL
"""


def clicks_contacts_fill(*, batch: int = 20_000) -> int:
    """Give clicks stored without a contact their ledger row's contact; how many were filled."""
    low, high = (
        Click.objects.filter(contact__isnull=True, message__isnull=False)
        .aggregate(low=Min("id"), high=Max("id"))
        .values()
    )
    filled, start = 0, low
    while start is not None and high is not None and start <= high:
        # Committed range by range (outside a transaction): no long lock on a big table.
        with connection.cursor() as cursor:
            cursor.execute(CONTACTS_FILL_SQL, {"start": start, "stop": start + batch})
            filled += cursor.rowcount
        start += batch
    return filled
