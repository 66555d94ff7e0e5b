"""Before going live: a draft replayed against recorded or scripted triggers, with simulated time.

Both run the real engine (the same entering, steps, rules and counters) on a copy of the draft,
moving a simulated clock from one trigger or due time to the next, and report what would have
happened; nothing is sent and nothing is kept:
- `journey_backtest` replays the last N days' real triggers (the stored events of the trigger's
  name, the keyword messages, the list joins, the date occasions, the outcomes of Herald's
  messages; not segment starts, of which no history is kept) and the goal and awaited
  events, inside one transaction that is rolled back at the end. Messages the draft would have
  sent did not exist, so no reply, click or delivery of them is assumed (their `wait_for`
  takes the timeout). Update steps are not applied (the contacts are real): they are recorded.
- `journey_test` (journeys/scratch.py) replays a scripted list of events for test contacts on a
  throw-away database, against the sandbox.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, Min
from django.utils import timezone

from campaigns.models import Campaign, FailoverMode, Message
from campaigns.pricing import estimate_cost
from campaigns.steps import campaign_steps
from contacts.models import Contact, ListMembership
from core.rules import Actor, actor_require
from core.words import first_word
from infobip.models import InboundMessage, KeywordAction
from journeys.engine import journey_advance
from journeys.entering import Candidate, LiveJourney, entries_create
from journeys.events import goals_reach
from journeys.models import (
    EntryStep,
    Event,
    Journey,
    JourneyEntry,
    JourneyState,
    JourneyVersion,
    StepCount,
)
from journeys.outcomes import recorded_outcomes
from journeys.services import JourneyError, journey_validate, send_campaigns_create
from journeys.spec import Definition, definition_parse
from journeys.triggers import EventCause, date_sweep, digits
from journeys.waits import events_arrived

NOT_TRIGGERS = (KeywordAction.OPT_OUT, KeywordAction.OPT_IN, KeywordAction.HELP)
# Causes are applied at whole minutes: fewer clock stops, the same story.
GRAIN = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Cause:
    """Something that happened at `at`: a trigger, a goal event, an awaited event."""

    at: dt.datetime
    kind: str  # trigger | goal | awaited | date
    contact_id: int = 0
    source: str = ""
    key: str = ""
    event_id: int | None = None
    name: str = ""
    properties: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass
class Report:
    """What a replay says the draft would have done."""

    journey: int
    since: str
    until: str
    triggers: int = 0
    entries: int = 0
    double_entries: int = 0
    sends: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    cost: str = "0.0000"
    currency: str = ""
    # Fallback messages the send steps' chains could add: at most one per chain step and
    # message, by channel, and what they would cost if every one went.
    fallbacks: dict[str, int] = field(default_factory=dict)
    fallback_cost: str = "0.0000"
    delayed_quiet_hours: int = 0
    delayed_caps: int = 0
    exits: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _floor(at: dt.datetime) -> dt.datetime:
    seconds = math.ceil(at.timestamp() / GRAIN.total_seconds()) * GRAIN.total_seconds()
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def scratch_journey(journey: Journey | None, definition: dict[str, Any]) -> tuple[Journey, int]:
    """A hidden copy of a draft, live in this transaction only: (journey, version id).

    Its trigger is not copied out (no real event, keyword or list reaches it): the replay
    hands it its causes. Its send steps get campaigns of their own, as activation makes them.
    """
    copy = Journey.objects.create(
        name=f"replay {secrets.token_hex(6)} of {(journey.name if journey else '')[:150]}",
        draft=definition,
        seed=journey.seed if journey else secrets.token_hex(8),
        state=JourneyState.ACTIVE,
        goal_event=definition_parse(definition).goal_event,
    )
    version = JourneyVersion.objects.create(journey=copy, number=1, definition=definition)
    send_campaigns_create(journey=copy, version=version)
    Journey.objects.filter(pk=copy.pk).update(version=version)
    copy.refresh_from_db()
    return copy, version.pk


def recorded_causes(definition: Definition, since: dt.datetime, until: dt.datetime) -> list[Cause]:
    """The stored causes of a definition's trigger, goal and awaited events in [since, until)."""
    trigger, causes = definition.trigger, []
    window = {"received_at__gte": since, "received_at__lt": until}
    if trigger["type"] == "event":
        for pk, contact, key, props, at in Event.objects.filter(
            name=trigger["event"], **window
        ).values_list("id", "contact_id", "key", "properties", "received_at"):
            causes.append(
                Cause(at, "trigger", contact, f"event:{pk}", key, pk, trigger["event"], props or {})
            )
    elif trigger["type"] == "keyword":
        word, number = first_word(trigger["keyword"]), digits(trigger.get("number", ""))
        for pk, contact, text, to, at in (
            InboundMessage.objects.filter(contact__isnull=False, **window)
            .exclude(keyword_action__in=NOT_TRIGGERS)
            .values_list("id", "contact_id", "text", "to_number", "received_at")
        ):
            if first_word(text) == word and (not number or digits(to) == number):
                causes.append(Cause(at, "trigger", contact, f"inbound:{pk}"))
    elif trigger["type"] == "list_joined":
        for contact, at in ListMembership.objects.filter(
            contact_list__name=trigger["list"], added_at__gte=since, added_at__lt=until
        ).values_list("contact_id", "added_at"):
            causes.append(Cause(at, "trigger", contact, f"list:{contact}:{at.timestamp()}"))
    elif trigger["type"] == "message":
        for at, contact, source, props in recorded_outcomes(
            outcome=trigger["outcome"],
            campaign_id=trigger.get("campaign"),
            since=since,
            until=until,
        ):
            causes.append(Cause(at, "trigger", contact, source, properties=props))
    else:
        day = since.replace(hour=23, minute=59, second=0, microsecond=0)
        while day < until:
            causes.append(Cause(day, "date"))
            day += dt.timedelta(days=1)
    awaited = {str(s.raw["event"]) for s in definition.steps.values() if s.type == "wait_for"}
    names = (awaited - {"reply", "click", "delivered"}) | (
        {definition.goal_event} if definition.goal_event else set()
    )
    for pk, name, contact, key, at in Event.objects.filter(name__in=names, **window).values_list(
        "id", "name", "contact_id", "key", "received_at"
    ):
        kind = "goal" if name == definition.goal_event else "awaited"
        causes.append(Cause(at, kind, contact, f"event:{pk}", key, pk, name))
        if kind == "goal" and name in awaited:
            causes.append(Cause(at, "awaited", contact, f"event:{pk}", key, pk, name))
    return sorted(causes, key=lambda c: (c.at, c.source))


def replay(journey: Journey, version_id: int, causes: list[Cause], until: dt.datetime) -> int:
    """Run the copy through the causes and every due time up to `until`; → triggers applied."""
    live = LiveJourney(journey.pk, version_id)
    entries = JourneyEntry.objects.filter(journey=journey, state=JourneyEntry.State.ACTIVE)
    i, clock, triggers = 0, causes[0].at if causes else until, 0
    while True:
        next_due = entries.aggregate(at=Min("due_at"))["at"]
        points = [
            t
            for t in (_floor(causes[i].at) if i < len(causes) else None, next_due)
            if t is not None and t <= until
        ]
        if not points:
            return triggers
        clock = max(clock, min(points))
        batch = []
        while i < len(causes) and _floor(causes[i].at) <= clock:
            batch.append(causes[i])
            i += 1
        triggers += _apply(journey, live, batch, clock)
        while journey_advance(journey_id=journey.pk, now=clock, dry=True).taken:
            pass


def _apply(journey: Journey, live: LiveJourney, batch: list[Cause], clock: dt.datetime) -> int:
    goals = [c for c in batch if c.kind == "goal"]
    if goals:  # before entering: the order the events API keeps (locks)
        goals_reach(
            events=[EventCause(c.event_id or 0, c.name, c.contact_id, c.key, {}) for c in goals],
            now=clock,
            journey_ids=[journey.pk],
        )
    triggers = [c for c in batch if c.kind == "trigger"]
    if triggers:
        entries_create(
            journey=live,
            now=clock,
            candidates=[
                Candidate(c.contact_id, c.source, c.key, c.event_id, c.properties) for c in triggers
            ],
        )
    for cause in batch:
        if cause.kind == "date":
            triggers.append(cause)
            date_sweep(live, clock)
    by_name: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for cause in batch:
        if cause.kind == "awaited":
            by_name[cause.name].append((cause.contact_id, cause.key))
    for name, contacts in by_name.items():
        events_arrived(name=name, contacts=contacts, now=clock, journey_ids=[journey.pk])
    return len(triggers)


def report(
    journey: Journey, definition: Definition, since: dt.datetime, until: dt.datetime, triggers: int
) -> Report:
    """What the copy did, from its ledger, its campaigns' ledgers and its counters."""
    out = Report(
        journey=journey.pk, since=since.isoformat(), until=until.isoformat(), triggers=triggers
    )
    entries = JourneyEntry.objects.filter(journey=journey)
    out.entries = entries.count()
    out.double_entries = double_entries(journey, definition)
    messages = Message.objects.filter(campaign__journey_step__version__journey=journey)
    out.sends = messages.filter(state="queued").count()
    out.skipped = dict(
        messages.filter(state="skipped").values_list("reason").annotate(n=Count("id"))
    )
    # Priced by the ledger's medium (campaigns.pricing finds its type's tables).
    estimate = estimate_cost(
        (phone, channel, parts)
        for phone, channel, parts in messages.filter(state="queued").values_list(
            "phone", "channel", "parts"
        )
    )
    out.cost, out.currency = f"{estimate.total:.4f}", estimate.currency
    out.fallbacks, out.fallback_cost = _fallbacks(messages.filter(state="queued"))
    held = EntryStep.objects.filter(entry__journey=journey, outcome="held")
    out.delayed_quiet_hours = held.filter(detail__startswith="quiet hours").count()
    out.delayed_caps = held.filter(detail__contains="frequency cap").count()
    exits: Counter[str] = Counter()
    steps = []
    for row in StepCount.objects.filter(journey=journey).exclude(step_id="").order_by("id"):
        for name in ("completed", "goal", "opted_out", "archived", "stopped"):
            exits[name] += getattr(row, f"exited_{name}")
        steps.append(
            {
                "id": row.step_id,
                "entered": row.entered,
                "sent": row.sent,
                "delayed": row.delayed,
                "then": row.then,
                "else": row.otherwise,
            }
        )
    out.exits = dict(exits)
    out.steps = steps
    out.in_flight = entries.filter(state=JourneyEntry.State.ACTIVE).count()
    return out


def _fallbacks(queued: Any) -> tuple[dict[str, int], str]:
    """The fallback messages the queued messages' chains could add, by channel, and their cost
    if every one went (each goes only when the one before it failed or stayed silent, and
    nothing was sent here, so this is the most the chain can add: the report says so)."""
    counts: Counter[str] = Counter()
    items: list[tuple[str, str, int]] = []
    campaigns = Campaign.objects.filter(pk__in=queued.values("campaign_id").distinct()).exclude(
        failover_mode=FailoverMode.NONE
    )
    for campaign in campaigns.order_by("id"):
        chain = campaign_steps(campaign)[1:]
        if not chain:
            continue
        phones = list(queued.filter(campaign=campaign).values_list("phone", flat=True))
        for step in chain:
            parts, _ = step.kind.measure(step.content.text)
            counts[step.kind.name] += len(phones)
            items += [(phone, step.medium, parts) for phone in phones]
    return dict(counts), f"{estimate_cost(items).total:.4f}"


def double_entries(journey: Journey, definition: Definition) -> int:
    """Entries the re-entry rule should have refused (always 0: the database refuses them)."""
    entries = JourneyEntry.objects.filter(journey=journey)
    twice = entries.values("source").annotate(n=Count("id")).filter(n__gt=1).count()
    if definition.reentry == "once":
        twice += entries.values("contact_id").annotate(n=Count("id")).filter(n__gt=1).count()
    elif definition.reentry == "once_per_key":
        twice += entries.values("contact_id", "key").annotate(n=Count("id")).filter(n__gt=1).count()
    elif definition.reentry == "cooldown" and definition.cooldown:
        times: dict[int, list[dt.datetime]] = defaultdict(list)
        for contact, at in entries.values_list("contact_id", "entered_at").order_by("entered_at"):
            times[contact].append(at)
        twice += sum(
            1
            for ts in times.values()
            for a, b in itertools.pairwise(ts)
            if b - a < definition.cooldown
        )
    return twice


def journey_backtest(
    *, journey: Journey, days: int, actor: Actor, now: dt.datetime | None = None
) -> Report:
    """Replay the last `days` days' real triggers through the journey's draft (nothing kept)."""
    actor_require(actor, "journeys.view_journey", doing="backtest journeys")
    if not 1 <= days <= 366:
        raise JourneyError("days: 1 to 366")
    problems = [
        p
        for p in journey_validate(definition=journey.draft, journey=journey)
        if not p.startswith("trigger.keyword")
    ]
    if problems:
        raise JourneyError(problems)
    definition = definition_parse(journey.draft)
    if definition.trigger["type"] == "segment":
        raise JourneyError(
            "a segment trigger cannot be backtested: Herald keeps no history of when contacts "
            "started matching a segment (its count and sample are on the segment's page)"
        )
    until = now or timezone.now()
    since = until - dt.timedelta(days=days)
    with transaction.atomic():
        copy, version_id = scratch_journey(journey, journey.draft)
        causes = recorded_causes(definition, since, until)
        triggers = replay(copy, version_id, causes, until)
        out = report(copy, definition, since, until, triggers)
        out.journey = journey.pk
        out.assumptions = [
            "nothing was sent: no reply, click or delivery of the draft's messages is assumed",
            "fallbacks: each message of a step with a fallback chain counted as if every step "
            "of its chain went (the most it can add; a delivered message sends none)",
            "update steps are recorded, not applied",
            f"triggers, goals and awaited events of {since:%Y-%m-%d %H:%M} to "
            f"{until:%Y-%m-%d %H:%M} UTC, applied at whole minutes",
        ]
        transaction.set_rollback(True)
    return out


def _send_queued(journey: Journey, clock: dt.datetime) -> None:
    """Hand what the journey queued to the sandbox (one request per send step) and apply the
    sandbox's answer and decided fate as the messages' outcomes (a scratch database only)."""

    from campaigns.ledger import Outcome, messages_apply_outcomes
    from campaigns.status_map import state_for_status
    from campaigns.steps import step_for_medium, step_sender
    from channels.base import Outbound
    from infobip.client import get_client
    from infobip.errors import InfobipError

    client = get_client()
    rows = list(
        Message.objects.filter(
            campaign__journey_step__version__journey=journey, state="queued"
        ).select_related("campaign")
    )
    outcomes: list[Outcome] = []
    for row in rows:
        message_id = str(row.message_id)
        # The row's step of its campaign says which type sends it (channels/registry.py).
        step = step_for_medium(row.campaign, row.channel)
        outbound = Outbound(
            to=row.phone.lstrip("+"),
            text=row.text,
            message_id=message_id,
            sender=step_sender(row.campaign, step),
            notify_url="",
            callback_data=row.callback_data,
            values=row.template_values,
            content=step.content,
        )
        try:
            answer = step.kind.send(client, [outbound])
        except InfobipError as exc:
            outcomes.append(Outcome(message_id, "failed", reason=str(exc)[:500], at=clock))
            continue
        if answer.refused:
            outcomes.append(
                Outcome(message_id, "failed", reason=answer.refused[0][1][:500], at=clock)
            )
            continue
        sent = answer.result.messages
        status = sent[0].status
        outcomes.append(
            Outcome(message_id, state_for_status(status), status_name=status.name, at=clock)
        )
    if outcomes:
        messages_apply_outcomes(outcomes=outcomes)
    fates = _fates([o.message_id for o in outcomes if o.state == "accepted"])
    finals = [
        Outcome(mid, state, status_name=f"sandbox {state}", at=clock)
        for mid, state in fates.items()
    ]
    if finals:
        messages_apply_outcomes(outcomes=finals)


def _fates(message_ids: list[str]) -> dict[str, str]:
    """The sandbox's decided final state of each message (its truth), when it has one."""
    import requests
    from django.conf import settings

    from campaigns.states import FINAL_STATES

    if not message_ids:
        return {}
    answer = requests.get(
        f"{settings.INFOBIP_SANDBOX_URL}/_sandbox/messages",
        params={"messageId": ",".join(message_ids)},
        headers={"Authorization": f"App {settings.INFOBIP_SANDBOX_API_KEY}"},
        timeout=30,
    )
    if answer.status_code != 200:
        return {}
    return {
        r["messageId"]: r["outcome"]
        for r in answer.json().get("results", [])
        if r.get("outcome") in {str(s) for s in FINAL_STATES}
    }


def _contact(raw: dict[str, Any]) -> int:
    from contacts.phones import PhoneChecker

    info = PhoneChecker().check(str(raw.get("phone", "")))
    fields = {
        k: str(raw[k]) for k in ("first_name", "last_name", "language", "timezone") if raw.get(k)
    }
    contact, _ = Contact.objects.update_or_create(
        phone=info.e164,
        defaults={**fields, "country": info.country, "attributes": raw.get("attributes") or {}},
    )
    return contact.pk


def _scripted(journey: Journey, line: dict[str, Any], clock: dt.datetime) -> None:
    from infobip.models import Click
    from journeys.events import events_record
    from journeys.triggers import keyword_messages_enter
    from journeys.waits import contacts_replied, messages_clicked

    contact_id = _contact(line["contact"])
    if "name" in line:
        events_record(
            events=[
                {
                    "name": line["name"],
                    "contact": {"id": contact_id},
                    "key": line.get("key", ""),
                    "properties": line.get("properties") or {},
                }
            ],
            now=clock,
        )
    elif "inbound" in line or "reply" in line:
        text = str(line.get("inbound") or line.get("reply") or "")
        inbound = InboundMessage.objects.create(
            channel="sms",
            contact_id=contact_id,
            infobip_message_id=f"test-{secrets.token_hex(8)}",
            from_number=line["contact"]["phone"].lstrip("+"),
            to_number=str(line.get("to", "")),
            text=text,
            received_at=clock,
        )
        claimed = (
            keyword_messages_enter(messages=[(inbound.pk, contact_id, text, inbound.to_number)])
            if "inbound" in line
            else set()
        )
        if not claimed:
            contacts_replied(contact_ids=[contact_id])
    elif "join" in line:
        from contacts.models import ContactList
        from contacts.services import contact_list_add

        joined, _ = ContactList.objects.get_or_create(name=str(line["join"])[:200])
        contact_list_add(contact_list=joined, contact_ids=[contact_id])
    elif "update" in line:
        from journeys.segment_trigger import segment_contacts_check

        segment_contacts_check(contact_ids=[contact_id], now=clock)
        if journey.trigger_type == "date_attribute" and journey.version_id:
            date_sweep(LiveJourney(journey.pk, journey.version_id), clock)
    elif "outcome" in line:
        _outcome(journey, contact_id, line, clock)
    elif line.get("click"):
        last = (
            Message.objects.filter(
                contact_id=contact_id, campaign__journey_step__version__journey=journey
            )
            .order_by("-id")
            .first()
        )
        if last is not None:
            Click.objects.create(
                message=last,
                campaign_id=last.campaign_id,
                url="https://test",
                contact_id=last.contact_id,
                clicked_at=clock,
            )
            messages_clicked(message_ids=[last.pk])


def _outcome(journey: Journey, contact_id: int, line: dict[str, Any], clock: dt.datetime) -> None:
    """A scripted outcome of a message of the trigger's campaign (copied into the scratch
    database) or of a test campaign: `message` triggers hear it as they would a real one (the
    ledger's signal, a stored click, a stored reply)."""
    from campaigns.ledger import Outcome, messages_apply_outcomes
    from campaigns.models import Campaign
    from infobip.models import Click, WebhookEvent
    from journeys.outcomes import clicks_enter, replies_enter

    campaign = Campaign.objects.filter(pk=journey.trigger_campaign_id or 0).first()
    if campaign is None:
        campaign, _ = Campaign.objects.get_or_create(
            name="journey test campaign",
            defaults={"channel": "sms", "state": "running", "text": "A test message"},
        )
    phone = Contact.objects.values_list("phone", flat=True).get(pk=contact_id)
    message = Message.objects.create(
        campaign=campaign,
        contact_id=contact_id,
        phone=phone,
        channel="sms",
        attempt=Message.objects.filter(campaign=campaign, contact_id=contact_id).count() + 1,
        text="A test message",
        state="accepted",
        callback_data=f"herald:campaign={campaign.pk}",
    )
    outcome = str(line["outcome"])
    if outcome in ("delivered", "failed"):
        state = "delivered" if outcome == "delivered" else "undeliverable"
        messages_apply_outcomes(outcomes=[Outcome(str(message.message_id), state, at=clock)])
    elif outcome == "clicked":
        event = WebhookEvent.objects.create(kind="clicks", body="{}")
        Click.objects.create(
            event=event,
            index=0,
            message=message,
            campaign=campaign,
            contact_id=contact_id,
            url="https://test",
            clicked_at=clock,
        )
        clicks_enter(event_keys=[(event.pk, 0)])
    else:
        inbound = InboundMessage.objects.create(
            channel="sms",
            contact_id=contact_id,
            infobip_message_id=f"test-{secrets.token_hex(8)}",
            from_number=phone.lstrip("+"),
            to_number="",
            text="a reply",
            received_at=clock,
        )
        replies_enter(messages=[(inbound.pk, contact_id, clock)])


def journey_replay_script(
    *,
    definition: dict[str, Any],
    lines: list[tuple[dt.datetime, dict[str, Any]]],
    start: dt.datetime,
) -> dict[str, Any]:
    """The definition live on this (scratch) database, the scripted events played in time,
    every due step taken and every message handed to the sandbox; → per contact, what and when."""
    from core.rules import OPERATOR
    from journeys.inspect import entries_inspect
    from journeys.services import journey_activate, journey_create

    journey = journey_create(definition=definition, actor=OPERATOR)
    journey_activate(journey=journey, actor=OPERATOR)
    if journey.trigger_type == "segment":
        from journeys.segment_trigger import journey_segment_sweep

        journey_segment_sweep(journey_id=journey.pk, now=start)  # the baseline
    entries = JourneyEntry.objects.filter(journey=journey, state=JourneyEntry.State.ACTIVE)
    horizon = start + dt.timedelta(days=400)
    i, clock = 0, start
    while clock <= horizon:
        next_due = entries.aggregate(at=Min("due_at"))["at"]
        points = [t for t in (lines[i][0] if i < len(lines) else None, next_due) if t]
        if not points:
            break
        clock = max(clock, min(points))
        while i < len(lines) and lines[i][0] <= clock:
            _scripted(journey, lines[i][1], clock)
            i += 1
        while journey_advance(journey_id=journey.pk, now=clock).taken:
            _send_queued(journey, clock)
        _send_queued(journey, clock)
    people: dict[str, list[dict[str, Any]]] = {}
    for entry in reversed(entries_inspect(journey=journey, limit=1000)):
        person = people.setdefault(entry["contact"]["phone"], [])
        for step in entry["steps"]:
            at = dt.datetime.fromisoformat(step["at"])
            message = step.get("message") or {}
            person.append(
                {
                    "after": str(at - start),
                    "at": step["at"],
                    "step": step["step"],
                    "outcome": step["outcome"],
                    "detail": step["detail"],
                    "text": message.get("text", ""),
                    "state": message.get("state", ""),
                }
            )
    return {
        "journey": definition.get("name"),
        "start": start.isoformat(),
        "contacts": people,
        "entries": JourneyEntry.objects.filter(journey=journey).count(),
    }
