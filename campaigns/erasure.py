"""Evidence and erasure for one contact: their consent history, and the right to be forgotten.

`contact_evidence` is what a person (or a regulator) asks for: what they were told and when,
how they opted in and out, and what they were sent. `contact_erase` forgets them: the contact
row goes (lists, consent events and reviews with it) and every ledger row, inbound message
and click keeps its counts, states and prices but loses the number and the text, so campaign
counters, costs and delivery rates stay right. Both are set-based (a few UPDATEs); the
erasure writes its own audit entry, so the UI, the admin and the command all leave the same trail.
"""

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Count

from campaigns.history import HistoryError, history_contact_erase, history_contact_rows
from campaigns.models import Message
from contacts.models import Contact
from core.rules import Actor
from core.services import audit_record

ERASED = ""  # what an erased number or text becomes


class ErasureError(Exception):
    """The contact cannot be erased now; the message says why."""


def contact_evidence(*, contact: Contact) -> dict[str, Any]:
    """The contact's consent history and what they were sent, as one JSON-able document."""
    from infobip.models import InboundMessage

    events = [
        {
            "at": e.created_at.isoformat(),
            "action": e.action,
            "source": e.source,
            "channel": e.channel,
            "note": e.note,
            "by": e.actor.get_username() if e.actor is not None else None,
            "occurred_at": e.occurred_at.isoformat() if e.occurred_at else None,
        }
        for e in contact.consent_events.select_related("actor").order_by("created_at", "id")
    ]
    sent = [
        {
            "at": m.created_at.isoformat(),
            "campaign": m.campaign.name,
            "channel": m.channel,
            "state": m.state,
            "text": m.text,
            "reason": m.reason,
            "delivered_at": m.done_at.isoformat() if m.done_at and m.state == "delivered" else None,
            "archived": False,
        }
        for m in Message.objects.filter(contact=contact).select_related("campaign").order_by("id")
    ]
    # Rows of campaigns whose history is archived are in their files (campaigns/history.py).
    archived, missing = history_contact_rows(contact_id=contact.pk)
    sent = [
        {
            "at": _iso(row["created_at"]),
            "campaign": campaign.name,
            "channel": row["channel"],
            "state": row["state"],
            "text": row["text"],
            "reason": row["reason"],
            "delivered_at": _iso(row["done_at"]) if row["state"] == "delivered" else None,
            "archived": True,
        }
        for campaign, row in archived
    ] + sent
    replies = [
        {
            "at": i.received_at.isoformat(),
            "channel": i.channel,
            "text": i.text,
            "keyword_action": i.keyword_action,
        }
        for i in InboundMessage.objects.filter(contact=contact).order_by("received_at", "id")
    ]
    return {
        "contact": {
            "phone": contact.phone,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "created_at": contact.created_at.isoformat(),
            "opted_out": contact.opted_out,
            "opted_out_at": contact.opted_out_at.isoformat() if contact.opted_out_at else None,
            "opted_out_source": contact.opted_out_source,
            "lists": sorted(contact.lists.values_list("name", flat=True)),
        },
        "consent_events": events,
        "messages": sent,
        # Archived campaigns whose history file is missing: their rows could not be listed.
        "history_files_missing": missing,
        "replies": replies,
    }


def _iso(value: str | None) -> str | None:
    """A time from a history file as the live rows give it (`datetime.isoformat()`)."""
    return dt.datetime.fromisoformat(value).isoformat() if value else None


@transaction.atomic
def contact_erase(*, contact: Contact, actor: Actor) -> dict[str, int]:
    """Forget a contact: anonymise their ledger rows, replies and clicks, delete the contact."""
    from infobip.models import Click, InboundMessage

    rows = Message.objects.filter(contact=contact)
    if rows.filter(state__in=["queued", "sending"]).exists():
        raise ErasureError(
            "this contact has messages being sent; wait for the campaign or cancel it, then erase"
        )
    message_ids = rows.values("id")
    clicks = Click.objects.filter(message_id__in=message_ids).update(
        recipient=ERASED, url=ERASED, raw={}, city="", device_name=""
    )
    by_campaign = dict(rows.values_list("campaign_id").annotate(n=Count("id")))
    ledger = rows.update(phone=ERASED, text=ERASED, template_values=None, contact=None)
    replies = InboundMessage.objects.filter(contact=contact).update(
        from_number=ERASED,
        text=ERASED,
        clean_text=ERASED,
        payload={},
        media_url="",
        reply_text=ERASED,
        contact=None,
    )
    contact_id = contact.pk
    contact.delete()
    # Archived history files are rewritten in place (campaigns/history.py), which no rollback
    # undoes: last, with only the audit entry after it.
    try:
        archived = history_contact_erase(contact_id=contact_id, erased=ERASED)
    except HistoryError as exc:  # a history file is missing: nothing is erased, and why
        raise ErasureError(str(exc)) from None
    result = {
        "ledger_rows": ledger,
        "campaigns": len(by_campaign),
        "replies": replies,
        "clicks": clicks,
        **archived,
    }
    # The detail names no number: the audit must not bring back what was erased.
    audit_record(
        actor=actor,
        action="contact_erase",
        detail=f"contact #{contact_id} erased: " + " ".join(f"{k}={v}" for k, v in result.items()),
    )
    return result
