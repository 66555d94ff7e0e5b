"""The per-contact inspector: each entry of a contact told as the story of its steps.

"entered 10:02 by event cart_abandoned (key cart-1042); waited PT1H; SMS delivered; clicked;
left: goal order_placed" — read from the journey ledger (EntryStep), the campaign ledger rows
it names (state, clicks) and the entry. A handful of queries per call, whatever its length.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count

from campaigns.models import Message
from contacts.models import Contact
from infobip.models import Click
from journeys.models import EntryStep, Event, Journey, JourneyEntry

MAX_ENTRIES = 50


def _when(at: dt.datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at else ""


def entry_cause(entry: JourneyEntry, events: dict[int, Event]) -> str:
    """How the entry came in, in words."""
    kind = entry.source.partition(":")[0]
    if kind == "event":
        event = events.get(entry.event_id or 0)
        name = event.name if event else "an event"
        return f"event {name}" + (f" (key {entry.key})" if entry.key else "")
    if kind == "inbound":
        return "keyword message"
    if kind == "list":
        return "joining the list"
    if kind == "date":
        return f"date occasion {entry.key}"
    if kind == "segment":
        return "starting to match the segment"
    if kind in ("delivered", "failed", "clicked", "reply"):
        props = entry.properties if isinstance(entry.properties, dict) else {}
        what = {"reply": "a reply to"}.get(kind, "")
        message = (
            f"campaign {props['campaign']}'s message" if props.get("campaign") else "a message"
        )
        return f"{what} {message}".strip() if what else f"{message} {kind}"
    return kind or "trigger"


def _step_words(step: EntryStep, messages: dict[int, dict[str, Any]]) -> str:
    if step.outcome in ("sent", "skipped") and step.message in messages:
        message = messages[step.message]
        words = f"{message['channel'].upper()} {message['state']}"
        if message["clicks"]:
            words += ", clicked"
        return words if step.outcome == "sent" else f"not sent: {step.detail}"
    if step.outcome == "exited":
        return f"left: {step.detail}"
    return f"{step.step_id} {step.outcome}" + (f" ({step.detail})" if step.detail else "")


def entries_inspect(
    *, journey: Journey, contact: Contact | None = None, limit: int = MAX_ENTRIES
) -> list[dict[str, Any]]:
    """The journey's entries (of one contact, or the latest), each with its steps and story."""
    entries = JourneyEntry.objects.filter(journey=journey).select_related("version")
    if contact is not None:
        entries = entries.filter(contact=contact)
    rows = list(entries.order_by("-id")[:limit])
    steps: dict[int, list[EntryStep]] = defaultdict(list)
    for step in EntryStep.objects.filter(entry__in=rows).order_by("entry_id", "n"):
        steps[step.entry_id].append(step)
    message_ids = {s.message for ss in steps.values() for s in ss if s.message}
    clicks = dict(
        Click.objects.filter(message_id__in=message_ids)
        .values_list("message_id")
        .annotate(n=Count("id"))
        .values_list("message_id", "n")
    )
    messages = {
        row["id"]: {**row, "message_id": str(row["message_id"]), "clicks": clicks.get(row["id"], 0)}
        for row in Message.objects.filter(id__in=message_ids).values(
            "id", "message_id", "channel", "state", "text"
        )
    }
    events = Event.objects.in_bulk([e.event_id for e in rows if e.event_id])
    phones = dict(
        Contact.objects.filter(id__in={e.contact_id for e in rows}).values_list("id", "phone")
    )
    out = []
    for entry in rows:
        story = [f"entered {_when(entry.entered_at)} by {entry_cause(entry, events)}"]
        story += [_step_words(step, messages) for step in steps[entry.pk]]
        if entry.state == JourneyEntry.State.ACTIVE:
            story.append(
                f"now at {entry.step}" + (f", due {_when(entry.due_at)}" if entry.due_at else "")
            )
        out.append(
            {
                "entry": entry.pk,
                "contact": {"id": entry.contact_id, "phone": phones.get(entry.contact_id, "")},
                "version": entry.version.number,
                "key": entry.key,
                "state": entry.state,
                "step": entry.step,
                "due_at": entry.due_at.isoformat() if entry.due_at else None,
                "entered_at": entry.entered_at.isoformat(),
                "exit_reason": entry.exit_reason or None,
                "exited_at": entry.exited_at.isoformat() if entry.exited_at else None,
                "steps": [
                    {
                        "n": s.n,
                        "step": s.step_id,
                        "outcome": s.outcome,
                        "detail": s.detail,
                        "at": s.at.isoformat(),
                        "message": messages.get(s.message) if s.message else None,
                    }
                    for s in steps[entry.pk]
                ],
                "story": "; ".join(story),
            }
        )
    return out
