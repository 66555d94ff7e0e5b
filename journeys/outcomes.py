"""The `message` trigger: what happened to a message Herald sent lets its contact in.

`{"type": "message", "outcome": "delivered|failed|clicked|replied", "campaign": 42}` — any
campaign's or transactional send's message when `campaign` is left out; never a journey's own
messages (a journey triggered by its own deliveries would feed itself). The outcomes reach
journeys the way list joins do, through the signals of the apps that own them, connected in
JourneysConfig.ready() — lower apps never import journeys:
- `delivered` and `failed`: campaigns' `messages_final` (a batch of ledger rows that reached a
  final state). `failed` is undeliverable, expired, rejected or failed — and only when no step
  of the campaign's fallback chain follows it (the person may still be reached; if the last
  step fails too, that one lets them in);
- `clicked`: infobip's `links_clicked` (the stored clicks, by their message), once per message;
- `replied`: inbox calls `replies_enter` for the inbound messages no keyword claimed; a reply
  answers the contact's latest message Herald sent within REPLY_WITHIN.
Each is one query per batch (never per message) and lets its contacts in with one statement per
journey (journeys/entering.py), in the transaction that stored the outcome, so an outcome is
acted on exactly when it is stored. The cause names the message (`delivered:<message pk>`,
`reply:<inbound pk>`): an outcome processed twice lets nobody in twice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from campaigns.models import Campaign, Message
from campaigns.steps import next_step
from infobip.models import Click
from journeys.entering import Candidate, LiveJourney, entries_create
from journeys.models import Journey, JourneyState

FAILED_STATES = ("undeliverable", "expired", "rejected", "failed")
# What a reply may answer: a message handed to Infobip (not queued, not skipped).
SENT_STATES = ("accepted", "delivered", "undeliverable", "expired", "rejected")
REPLY_WITHIN = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Listener:
    """A live journey listening for an outcome, and the campaign it narrows to (or None)."""

    journey: LiveJourney
    campaign_id: int | None


@dataclass(frozen=True, slots=True)
class Happened:
    """An outcome of one of Herald's messages: the cause of an entry."""

    source: str
    contact_id: int
    campaign_id: int
    channel: str


def listeners(outcomes: Iterable[str]) -> dict[str, list[Listener]]:
    """Live journeys by the outcome they listen for (one small query)."""
    found: dict[str, list[Listener]] = defaultdict(list)
    for pk, version, outcome, campaign in Journey.objects.filter(
        state=JourneyState.ACTIVE,
        trigger_type="message",
        trigger_outcome__in=list(outcomes),
        version__isnull=False,
    ).values_list("id", "version_id", "trigger_outcome", "trigger_campaign_id"):
        found[outcome].append(Listener(LiveJourney(pk, version), campaign))
    return found


def _enter(outcome: str, found: list[Listener], happened: list[Happened]) -> int:
    entered = 0
    for listener in found:
        wanted = listener.campaign_id
        mine = [h for h in happened if wanted is None or h.campaign_id == wanted]
        if not mine:
            continue
        candidates = [
            Candidate(
                h.contact_id,
                h.source,
                properties={"outcome": outcome, "campaign": h.campaign_id, "channel": h.channel},
            )
            for h in mine
        ]
        entered += len(entries_create(journey=listener.journey, candidates=candidates))
    return entered


def _messages(ids: Sequence[int], states: Sequence[str]) -> QuerySet[Message]:
    """Herald's messages among `ids` in `states`, of campaigns (not journeys), to a contact."""
    return Message.objects.filter(
        id__in=list(ids),
        state__in=list(states),
        contact_id__isnull=False,
        campaign__open_ended=False,
    )


def messages_final_enter(*, message_ids: Sequence[int]) -> int:
    """Messages that just reached a final state: `delivered` and `failed` journeys."""
    found = listeners(("delivered", "failed"))
    if not found or not message_ids:
        return 0
    rows = list(
        _messages(message_ids, ("delivered", *FAILED_STATES)).values_list(
            "id", "contact_id", "campaign_id", "channel", "state"
        )
    )
    entered = 0
    if found.get("delivered"):
        happened = [
            Happened(f"delivered:{pk}", contact, campaign, channel)
            for pk, contact, campaign, channel, state in rows
            if state == "delivered"
        ]
        entered += _enter("delivered", found["delivered"], happened)
    failed = [row for row in rows if row[4] in FAILED_STATES]
    if found.get("failed") and failed:
        campaigns = Campaign.objects.in_bulk({row[2] for row in failed})
        # A step of the campaign's fallback chain follows: not failed yet, for the person.
        happened = [
            Happened(f"failed:{pk}", contact, campaign, channel)
            for pk, contact, campaign, channel, _ in failed
            if campaign in campaigns and next_step(campaigns[campaign], channel) is None
        ]
        entered += _enter("failed", found["failed"], happened)
    return entered


def clicks_enter(*, event_keys: Sequence[tuple[int | None, int]]) -> int:
    """Clicks just stored (by their webhook event and position): `clicked` journeys."""
    wanted = [(e, i) for e, i in event_keys if e is not None]
    found = listeners(("clicked",))
    if not wanted or not found:
        return 0
    query = Q()
    for event_id, index in wanted:
        query |= Q(event_id=event_id, index=index)
    clicked = set(
        Click.objects.filter(query, message__isnull=False).values_list("message_id", flat=True)
    )
    happened = [
        Happened(f"clicked:{pk}", contact, campaign, channel)
        for pk, contact, campaign, channel in _messages(sorted(clicked), SENT_STATES).values_list(
            "id", "contact_id", "campaign_id", "channel"
        )
    ]
    return _enter("clicked", found["clicked"], happened)


def replies_enter(*, messages: Sequence[tuple[int, int, dt.datetime]]) -> int:
    """Replies just stored, as (inbound id, contact id, received at): `replied` journeys.

    A reply answers its contact's latest message Herald sent within REPLY_WITHIN before it.
    """
    found = listeners(("replied",))
    if not messages or not found:
        return 0
    happened = [
        Happened(f"reply:{inbound}", contact, campaign, channel)
        for (inbound, contact, _), (campaign, channel) in _answered(messages).items()
    ]
    return _enter("replied", found["replied"], happened)


def _answered(
    replies: Sequence[tuple[int, int, dt.datetime]],
) -> dict[tuple[int, int, dt.datetime], tuple[int, str]]:
    """Each reply (inbound id, contact id, received at) → the (campaign, channel) of the
    message it answers: its contact's latest message Herald sent within REPLY_WITHIN before
    it. One query for the whole batch."""
    if not replies:
        return {}
    earliest = min(at for _, _, at in replies) - REPLY_WITHIN
    latest = max(at for _, _, at in replies)
    sent: dict[int, list[tuple[dt.datetime, int, str]]] = defaultdict(list)
    for contact, created, campaign, channel in Message.objects.filter(
        contact_id__in={c for _, c, _ in replies},
        created_at__gte=earliest,
        created_at__lte=latest,
        state__in=SENT_STATES,
        campaign__open_ended=False,
    ).values_list("contact_id", "created_at", "campaign_id", "channel"):
        sent[contact].append((created, campaign, channel))
    out = {}
    for reply in replies:
        _, contact, at = reply
        before = [m for m in sent.get(contact, ()) if at - REPLY_WITHIN <= m[0] <= at]
        if before:
            _, campaign, channel = max(before)
            out[reply] = (campaign, channel)
    return out


def messages_final_receiver(sender: Any, *, message_ids: list[int], **kwargs: Any) -> None:
    """campaigns' messages_final signal (in the report's transaction)."""
    messages_final_enter(message_ids=message_ids)


def links_clicked_receiver(
    sender: Any, *, event_keys: list[tuple[int | None, int]], **kwargs: Any
) -> None:
    """infobip's links_clicked signal (in the click's transaction)."""
    clicks_enter(event_keys=event_keys)


def recorded_outcomes(
    *, outcome: str, campaign_id: int | None, since: dt.datetime, until: dt.datetime
) -> list[tuple[dt.datetime, int, str, dict[str, Any]]]:
    """The stored outcomes a `message` trigger would have seen in [since, until): (when,
    contact id, cause, properties) — a backtest's triggers (journeys/simulate.py)."""
    narrow = {"campaign_id": campaign_id} if campaign_id is not None else {}
    found: list[tuple[dt.datetime, int, str, dict[str, Any]]] = []

    def add(at: Any, contact: int, source: str, campaign: Any, channel: Any) -> None:
        found.append(
            (at, contact, source, {"outcome": outcome, "campaign": campaign, "channel": channel})
        )

    messages = Message.objects.filter(
        contact_id__isnull=False, campaign__open_ended=False, **narrow
    )
    if outcome in ("delivered", "failed"):
        states = ("delivered",) if outcome == "delivered" else FAILED_STATES
        rows = list(
            messages.filter(state__in=states, done_at__gte=since, done_at__lt=until).values_list(
                "id", "contact_id", "campaign_id", "channel", "done_at"
            )
        )
        campaigns = Campaign.objects.in_bulk({r[2] for r in rows}) if outcome == "failed" else {}
        for pk, contact, campaign, channel, at in rows:
            if outcome == "failed" and (
                campaign not in campaigns or next_step(campaigns[campaign], channel) is not None
            ):
                continue
            add(at, contact, f"{outcome}:{pk}", campaign, channel)
    elif outcome == "clicked":
        first: dict[int, dt.datetime] = {}
        for message, at in Click.objects.filter(
            message__in=messages, clicked_at__gte=since, clicked_at__lt=until
        ).values_list("message_id", "clicked_at"):
            first[message] = min(at, first.get(message, at))
        for pk, contact, campaign, channel in messages.filter(id__in=list(first)).values_list(
            "id", "contact_id", "campaign_id", "channel"
        ):
            add(first[pk], contact, f"clicked:{pk}", campaign, channel)
    else:
        from infobip.models import InboundMessage, KeywordAction

        keywords = (
            KeywordAction.OPT_OUT,
            KeywordAction.OPT_IN,
            KeywordAction.HELP,
            KeywordAction.JOURNEY,
        )
        replies = list(
            InboundMessage.objects.filter(
                contact_id__isnull=False, received_at__gte=since, received_at__lt=until
            )
            .exclude(keyword_action__in=keywords)
            .values_list("id", "contact_id", "received_at")
        )
        answered = _answered(replies)
        for (pk, contact, at), (campaign, channel) in answered.items():
            if campaign_id is None or campaign == campaign_id:
                add(at, contact, f"reply:{pk}", campaign, channel)
    return sorted(found, key=lambda row: (row[0], row[2]))
