"""Journey services: create and edit drafts, activate (a new version), pause, resume, archive.

Every surface (the builder, the admin, `manage.py journey`, the API) calls these, so the rules
hold everywhere: editing needs the journeys permissions, switching a journey on or off needs
the send permission (it sends messages, like launching a campaign), and every change is
audited. Activating checks the whole definition against the database too (lists, segments,
templates, and keywords nobody else owns) and makes the next version: contacts in flight
finish on the version they entered on unless `journey_entries_move` moves them.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import subprocess
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from campaigns.models import Campaign, Segment
from campaigns.open_ledger import open_campaign_create
from campaigns.permissions import SEND
from campaigns.rendering import placeholder_names
from channels.base import Regional
from channels.registry import channel_type
from channels.senders import sender_is_auto
from contacts.models import ContactList, OptInKeyword
from core.rules import Actor, actor_require, actor_user
from core.services import audit_record
from core.words import first_word
from journeys.batch import definition_of
from journeys.engine import journey_spent
from journeys.figures import journey_conversions
from journeys.models import (
    ExitReason,
    Journey,
    JourneyEntry,
    JourneyState,
    JourneyTest,
    JourneyVersion,
    SegmentMember,
    SendStep,
    StepCount,
)
from journeys.plan import COUNTERS
from journeys.rules import branch_rule_check
from journeys.sending import template_mapping
from journeys.spec import Definition, definition_check, definition_parse
from journeys.tasks import test_run as test_run_task
from journeys.triggers import digits, settings_keywords
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import template_check_sendable

EDIT = "journeys.change_journey"
ADD = "journeys.add_journey"
LIVE_STATES = (JourneyState.ACTIVE, JourneyState.PAUSED)


class JourneyError(ValueError):
    """A journey change that cannot be made; `problems` lists every reason."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


def journey_validate(*, definition: Any, journey: Journey | None = None) -> list[str]:
    """Every problem in a definition, including what only the database can tell ([] if none)."""
    problems = definition_check(definition)
    if problems:
        return problems
    parsed = definition_parse(definition)
    trigger = parsed.trigger
    problems += _audience_problems(trigger)
    if (
        trigger["type"] == "list_joined"
        and not ContactList.objects.filter(name=trigger["list"]).exists()
    ):
        problems.append(f"trigger.list: no list named {trigger['list']!r}")
    if (
        trigger["type"] == "segment"
        and not Segment.objects.filter(name=trigger["segment"]).exists()
    ):
        problems.append(f"trigger.segment: no segment named {trigger['segment']!r}")
    if trigger["type"] == "message" and trigger.get("campaign") is not None:
        campaign = Campaign.objects.filter(pk=trigger["campaign"]).first()
        if campaign is None:
            problems.append(f"trigger.campaign: no campaign {trigger['campaign']}")
        elif campaign.open_ended:
            problems.append(
                "trigger.campaign: a journey's own messages cannot trigger journeys (name a "
                "campaign, or leave it out for any campaign)"
            )
    if trigger["type"] == "keyword":
        problems += keyword_problems(
            keyword=trigger["keyword"], number=trigger.get("number", ""), journey=journey
        )
    for index, step_id in enumerate(parsed.order):
        step = parsed.step(step_id)
        where = f"steps[{index}]"
        if step.type == "branch":
            problems += [f"{where}.{p}" for p in branch_rule_check(step.raw["rule"])]
        templated = step.type == "send" and channel_type(step.raw["channel"]).uses_template
        if templated:
            template = _template(step.raw)
            if template is None:
                problems.append(
                    f"{where}.template: no synced template {step.raw['template']!r} "
                    f"({step.raw['language']}); run sync_templates"
                )
            elif reason := template_check_sendable(template=template):
                problems.append(f"{where}.template: {reason}")
        if step.type == "send" and not templated:
            bad = [
                n
                for n in placeholder_names(step.raw["text"])
                if n.startswith("event.") and parsed.trigger["type"] != "event"
            ]
            if bad:
                problems.append(f"{where}.text: {{{{{bad[0]}}}}} needs an event trigger")
    return problems


def _audience_problems(trigger: dict[str, Any]) -> list[str]:
    problems = []
    for side in ("include", "exclude"):
        audience = trigger.get(side) or {}
        lists = audience.get("lists") or []
        known = set(ContactList.objects.filter(name__in=lists).values_list("name", flat=True))
        problems += [f"trigger.{side}.lists: no list named {n!r}" for n in lists if n not in known]
        segments = audience.get("segments") or []
        known = set(Segment.objects.filter(name__in=segments).values_list("name", flat=True))
        problems += [
            f"trigger.{side}.segments: no segment named {n!r}" for n in segments if n not in known
        ]
    return problems


def keyword_problems(*, keyword: str, number: str, journey: Journey | None = None) -> list[str]:
    """Why a journey may not claim `keyword` on `number` (blank: every number)."""
    word, number = first_word(keyword), digits(number)
    if not word:
        return ["trigger.keyword: a word"]
    if owner := settings_keywords().get(word):
        return [f"trigger.keyword: {keyword.upper()} is an {owner} keyword (inbox answers it)"]
    problems = []
    for opt_in in OptInKeyword.objects.filter(active=True):
        if first_word(opt_in.keyword) == word and (
            not opt_in.number or not number or digits(opt_in.number) == number
        ):
            problems.append(
                f"trigger.keyword: {keyword.upper()} is the opt-in keyword of the "
                f"list {opt_in.contact_list.name!r} (/keywords/)"
            )
    others = Journey.objects.filter(state__in=LIVE_STATES, trigger_keyword=word)
    if journey is not None and journey.pk:
        others = others.exclude(pk=journey.pk)
    for other in others:
        # A journey listening on every number overlaps with any number's, and vice versa.
        if not number or not other.trigger_number or other.trigger_number == number:
            where = f"number {other.trigger_number}" if other.trigger_number else "every number"
            problems.append(
                f"trigger.keyword: {keyword.upper()} on {where} belongs to the "
                f"journey {other.name!r}"
            )
    return problems


def _template(raw: dict[str, Any]) -> WhatsAppTemplate | None:
    from django.conf import settings

    sender = raw.get("sender") or settings.INFOBIP_WHATSAPP_SENDER
    return WhatsAppTemplate.objects.filter(
        sender=sender, name=raw.get("template"), language=raw.get("language")
    ).first()


def journey_create(*, definition: Any, actor: Actor, strict: bool = True) -> Journey:
    """A draft journey from a definition (strict: refused unless it could be activated)."""
    actor_require(actor, ADD, doing="create journeys")
    name = definition.get("name") if isinstance(definition, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise JourneyError("name: give the journey a name")
    problems = journey_validate(definition=definition) if strict else []
    if problems:
        raise JourneyError(problems)
    if Journey.objects.filter(name=name.strip()).exists():
        raise JourneyError(f"name: a journey called {name.strip()!r} exists")
    journey = Journey.objects.create(
        name=name.strip()[:200],
        draft=definition,
        seed=secrets.token_hex(8),
        created_by=actor_user(actor),
    )
    audit_record(
        actor=actor, action="journey_create", detail=f"journey {journey.pk} {journey.name}"
    )
    return journey


def journey_update(
    *, journey: Journey, definition: Any, actor: Actor, strict: bool = True
) -> Journey:
    """Replace a journey's draft (the live version is unchanged until the next activation)."""
    actor_require(actor, EDIT, doing="edit journeys")
    if journey.state == JourneyState.ARCHIVED:
        raise JourneyError("an archived journey cannot be edited")
    problems = journey_validate(definition=definition, journey=journey) if strict else []
    if problems:
        raise JourneyError(problems)
    name = definition.get("name") if isinstance(definition, dict) else None
    if isinstance(name, str) and name.strip() and name.strip() != journey.name:
        if Journey.objects.filter(name=name.strip()).exclude(pk=journey.pk).exists():
            raise JourneyError(f"name: a journey called {name.strip()!r} exists")
        journey.name = name.strip()[:200]
    journey.draft = definition
    journey.save(update_fields=["draft", "name", "updated_at"])
    audit_record(actor=actor, action="journey_update", detail=f"journey {journey.pk}")
    return journey


def journey_activate(*, journey: Journey, actor: Actor) -> JourneyVersion:
    """Make the draft the live version (the next number) and let contacts in."""
    version = _activate(journey=journey, actor=actor)
    journey.refresh_from_db()
    return version


@transaction.atomic
def _activate(*, journey: Journey, actor: Actor) -> JourneyVersion:
    actor_require(actor, SEND, doing="activate journeys")
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.state == JourneyState.ARCHIVED:
        raise JourneyError("an archived journey cannot be activated")
    problems = journey_validate(definition=journey.draft, journey=journey)
    if problems:
        raise JourneyError(problems)
    parsed = definition_parse(journey.draft)
    number = (journey.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = JourneyVersion.objects.create(
        journey=journey, number=number, definition=journey.draft, created_by=actor_user(actor)
    )
    send_campaigns_create(journey=journey, version=version)
    trigger = parsed.trigger
    journey.version = version
    journey.state, journey.state_reason = JourneyState.ACTIVE, ""
    journey.trigger_type = trigger["type"]
    journey.trigger_event = trigger.get("event", "") if trigger["type"] == "event" else ""
    journey.trigger_keyword = (
        first_word(trigger.get("keyword", "")) if trigger["type"] == "keyword" else ""
    )
    journey.trigger_number = (
        digits(trigger.get("number", "")) if trigger["type"] == "keyword" else ""
    )
    journey.trigger_list = (
        ContactList.objects.get(name=trigger["list"]) if trigger["type"] == "list_joined" else None
    )
    segment = (
        Segment.objects.get(name=trigger["segment"]).pk if trigger["type"] == "segment" else None
    )
    if segment != journey.trigger_segment_id:
        # A new segment: its first sweep takes who matches then as the baseline (segment
        # journeys let in those who start matching, not those who already did).
        SegmentMember.objects.filter(journey=journey).delete()
        journey.swept_through = None
    journey.trigger_segment_id = segment
    journey.trigger_outcome = trigger.get("outcome", "") if trigger["type"] == "message" else ""
    journey.trigger_campaign_id = trigger.get("campaign") if trigger["type"] == "message" else None
    journey.goal_event = parsed.goal_event
    journey.activated_at = journey.activated_at or timezone.now()
    try:
        with transaction.atomic():
            journey.save()
    except IntegrityError:
        raise JourneyError(
            f"trigger.keyword: {trigger.get('keyword', '').upper()} is claimed by another journey"
        ) from None
    audit_record(
        actor=actor, action="journey_activate", detail=f"journey {journey.pk} version {number}"
    )
    return version


def send_campaigns_create(*, journey: Journey, version: JourneyVersion) -> None:
    """The hidden, open-ended campaign of each send step of a version (at its activation)."""
    parsed = definition_parse(version.definition)
    for step_id in parsed.order:
        step = parsed.step(step_id)
        if step.type == "send":
            _send_campaign(journey, version, step.raw, parsed)


def _send_campaign(
    journey: Journey, version: JourneyVersion, raw: dict[str, Any], parsed: Definition
) -> None:
    from journeys.spec import duration_parse, quiet_hours_parse

    channel = raw["channel"]
    kind = channel_type(channel)
    template = _template(raw) if kind.uses_template else None
    window = quiet_hours_parse(raw.get("quiet_hours") or "") or parsed.quiet_hours
    text = raw.get("text", "")
    has_link = "http://" in text or "https://" in text
    track = raw.get("track_links", kind.tracks_links_by_default and has_link)
    sender = "" if sender_is_auto(raw.get("sender", "")) else raw.get("sender", "")
    if sender == "" and kind.sender_kind == "whatsapp":
        # WhatsApp templates are synced per sender number: the step's campaign names its own.
        sender = kind.default_sender()
    campaign = open_campaign_create(
        name=f"Journey {journey.name} v{version.number} · {raw['id']}",
        channel=channel,
        sender=sender,
        text=text,
        template=template,
        template_mapping=template_mapping(raw.get("placeholders") or {}) if template else None,
        quiet_hours=window,
        track_links=bool(track),
        frequency_cap_override=True,  # the journey applies the caps itself (delay/skip/exempt)
        created_by=version.created_by,
        # Countries' rules: the step's own DLT template, IYS default and Korean title; its
        # recipients' senders are each one's country's (the step's sender blank or auto).
        regional=Regional(
            dlt_template_id=raw.get("dlt_template_id", ""),
            iys_recipient_type=raw.get("iys_recipient_type", ""),
            kr_title=raw.get("kr_title", ""),
        ),
        # The step's fallback chain runs on the campaign's own failover (each follow-up keeps
        # its message's attempt, the entry's number: a contact's second entry has its own).
        fallback=raw.get("fallback") or None,
        failover_after=duration_parse(raw.get("fallback_after")),
    )
    SendStep.objects.create(version=version, step_id=raw["id"], campaign=campaign)


def _move(
    journey: Journey, to: str, actor: Actor, action: str, reason: str = "", **fields: Any
) -> Journey:
    with transaction.atomic():
        locked = Journey.objects.select_for_update().get(pk=journey.pk)
        locked.state, locked.state_reason = to, reason[:500]
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save()
        audit_record(actor=actor, action=action, detail=f"journey {journey.pk} {reason}"[:500])
    journey.refresh_from_db()
    return journey


def journey_pause(*, journey: Journey, actor: Actor, reason: str = "") -> Journey:
    """Hold every wait and send: nothing moves until resumed (new triggers are not let in)."""
    actor_require(actor, SEND, doing="pause journeys")
    if journey.state != JourneyState.ACTIVE:
        raise JourneyError(f"only an active journey can be paused (it is {journey.state})")
    return _move(journey, JourneyState.PAUSED, actor, "journey_pause", reason)


def journey_resume(*, journey: Journey, actor: Actor) -> Journey:
    """Resume a paused journey: waits that came due meanwhile run at once."""
    actor_require(actor, SEND, doing="resume journeys")
    if journey.state != JourneyState.PAUSED:
        raise JourneyError(f"only a paused journey can be resumed (it is {journey.state})")
    journey = _move(journey, JourneyState.ACTIVE, actor, "journey_resume")
    from journeys.wake import journeys_wake

    journeys_wake(journey_ids=[journey.pk])
    return journey


def journey_budget_pause(*, journey_id: int, reason: str) -> None:
    """The engine found the journey's spend at its cap: pause it with the reason."""
    from core.rules import SYSTEM

    journey = Journey.objects.get(pk=journey_id)
    if journey.state == JourneyState.ACTIVE:
        _move(journey, JourneyState.PAUSED, SYSTEM, "journey_pause", reason)


def journey_archive(*, journey: Journey, actor: Actor, mode: str = "finish") -> Journey:
    """Stop letting contacts in; `finish` lets those in flight finish, `stop` makes them leave."""
    actor_require(actor, SEND, doing="archive journeys")
    if mode not in ("finish", "stop"):
        raise JourneyError("archive mode is finish (in-flight contacts finish) or stop")
    if journey.state == JourneyState.ARCHIVED:
        raise JourneyError("the journey is archived already")
    journey = _move(
        journey,
        JourneyState.ARCHIVED,
        actor,
        "journey_archive",
        f"archived ({mode})",
        archive_mode=mode,
        archived_at=timezone.now(),
    )
    if mode == "stop":
        entries_stop(journey_id=journey.pk, reason=ExitReason.ARCHIVED)
    return journey


def entries_stop(*, journey_id: int, reason: str, batch: int = 5000) -> int:
    """Every active entry of the journey leaves for `reason`, in batches (engine-safe)."""
    from journeys.stopping import entries_leave

    total = 0
    while True:
        with transaction.atomic():
            done = entries_leave(journey_id=journey_id, reason=reason, limit=batch)
        total += done
        if done < batch:
            return total


def journey_entries_move(*, journey: Journey, actor: Actor) -> int:
    """Move contacts in flight on older versions to the live version (at the same step id)."""
    actor_require(actor, SEND, doing="move contacts between journey versions")
    from journeys.stopping import entries_to_version

    journey = Journey.objects.get(pk=journey.pk)  # the live version as of now
    if journey.version_id is None:
        raise JourneyError("the journey has no live version yet")
    moved = entries_to_version(journey_id=journey.pk, version_id=journey.version_id)
    audit_record(actor=actor, action="journey_move", detail=f"journey {journey.pk}: {moved} moved")
    return moved


def journeys_runnable() -> list[int]:
    """Journeys whose entries move (active, or archived letting contacts finish)."""
    return list(
        Journey.objects.filter(
            Q(state=JourneyState.ACTIVE) | Q(state=JourneyState.ARCHIVED, archive_mode="finish")
        ).values_list("id", flat=True)
    )


def journey_status(*, journey: Journey) -> dict[str, Any]:
    """The journey's definition, version and per-step counts (the API's and CLI's document)."""
    rows = StepCount.objects.filter(journey=journey).values("step_id", *COUNTERS)
    by_step: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    for row in rows:
        for name in COUNTERS:
            by_step[row["step_id"]][name] += row[name]
    live = definition_of(journey.version_id) if journey.version_id else None
    order = list(live.order) if live else []
    order += sorted(s for s in by_step if s and s not in order)
    steps = []
    for step_id in order:
        counts = by_step[step_id]
        steps.append(
            {
                "id": step_id,
                "type": live.step(step_id).type if live and step_id in live.steps else "",
                "entered": counts["entered"],
                "waiting": counts["waiting"],
                "sent": counts["sent"],
                "delayed": counts["delayed"],
                "then": counts["then"],
                "else": counts["otherwise"],
                "exited": _exits(counts),
            }
        )
    exited: dict[str, int] = defaultdict(int)
    for counts in by_step.values():
        for reason, n in _exits(counts).items():
            exited[reason] += n
    active = sum(c["waiting"] for step_id, c in by_step.items() if step_id)
    spent = journey_spent(journey.pk)
    version = journey.version
    conversions, by_send_step = journey_conversions(journey_id=journey.pk)
    for step in steps:
        if step["id"] in by_send_step:
            step["conversions"] = by_send_step[step["id"]]
    return {
        "id": journey.pk,
        "name": journey.name,
        "state": journey.state,
        "state_reason": journey.state_reason,
        "version": version.number if version else None,
        "definition": version.definition if version else None,
        "draft": journey.draft,
        "draft_changed": version is not None and journey.draft != version.definition,
        "counts": {"entered": by_step[""]["entered"], "active": active, "exited": dict(exited)},
        "steps": steps,
        "cost": {"amount": f"{spent:.4f}", "max_spend": _max_spend(journey)},
        "conversions": conversions,
        "versions": _versions(journey),
    }


def _exits(counts: dict[str, int]) -> dict[str, int]:
    return {reason.value: counts[f"exited_{reason.value}"] for reason in ExitReason}


def _max_spend(journey: Journey) -> str | None:
    if journey.version is None:
        return None
    raw = journey.version.definition.get("max_spend")
    return None if raw in (None, "") else f"{Decimal(str(raw)):.4f}"


def _versions(journey: Journey) -> list[dict[str, Any]]:
    # Contacts in flight per version: the counters' "waiting" summed (no count of entries).
    active: dict[int, int] = defaultdict(int)
    for version_id, waiting in (
        StepCount.objects.filter(journey=journey)
        .exclude(step_id="")
        .values_list("version_id", "waiting")
    ):
        active[version_id] += waiting
    return [
        {"number": v.number, "created_at": v.created_at.isoformat(), "active": active[v.pk]}
        for v in journey.versions.order_by("number")
    ]


def journey_next_due(*, journey: Journey) -> dt.datetime | None:
    """When the journey's next entry falls due (None when none waits)."""
    return (
        JourneyEntry.objects.filter(journey=journey, state=JourneyEntry.State.ACTIVE)
        .aggregate(next=Min("due_at"))
        .get("next")
    )


# A builder's test: at most this many scripted lines, and a test that has not finished after
# this long is shown as failed (its worker died; the scratch database is dropped by the next).
TEST_MAX_LINES = 200
TEST_GIVES_UP = dt.timedelta(minutes=15)


def journey_test_start(*, journey: Journey, events: str, actor: Actor) -> JourneyTest:
    """Test the journey's draft for scripted test contacts on a scratch database against the
    sandbox, with simulated time (a task runs it after the commit; nothing real is touched)."""
    from journeys.scratch import parse_events_text

    actor_require(actor, "journeys.view_journey", doing="test journeys")
    problems = definition_check(journey.draft)
    lines = [line for line in events.splitlines() if line.strip()]
    if len(lines) > TEST_MAX_LINES:
        problems.append(f"events: at most {TEST_MAX_LINES} lines")
    elif "\x00" in events:
        problems.append("events: NUL characters are not accepted")
    else:
        try:
            parse_events_text(events, timezone.now(), name="events")
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise JourneyError(problems)
    test = JourneyTest.objects.create(
        journey=journey,
        definition=journey.draft,
        events="\n".join(lines),
        created_by=actor_user(actor),
    )
    transaction.on_commit(lambda: test_run_task.delay(test.pk))
    audit_record(actor=actor, action="journey_test", detail=f"journey {journey.pk} test {test.pk}")
    return test


def journey_test_run(*, test_id: int) -> None:
    """Run a queued test (once: the row is claimed first) and keep its report or its error."""
    import tempfile
    from pathlib import Path

    from journeys.scratch import ScratchError, journey_test

    claimed = JourneyTest.objects.filter(pk=test_id, state=JourneyTest.State.QUEUED).update(
        state=JourneyTest.State.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    test = JourneyTest.objects.get(pk=test_id)
    report, error = None, ""
    with tempfile.TemporaryDirectory(prefix="herald-journey-test-") as folder:
        spec, events = Path(folder) / "spec.json", Path(folder) / "events.jsonl"
        spec.write_text(json.dumps(test.definition), encoding="utf-8")
        events.write_text(test.events, encoding="utf-8")
        try:
            report = journey_test(spec=spec, events=events if test.events else None)
        except (ScratchError, subprocess.TimeoutExpired, ValueError) as exc:
            error = str(exc)[-2000:] or exc.__class__.__name__
    JourneyTest.objects.filter(pk=test_id).update(
        state=JourneyTest.State.FAILED if error else JourneyTest.State.DONE,
        report=report,
        error=error,
        finished_at=timezone.now(),
    )


def journey_test_state(*, test: JourneyTest, now: dt.datetime | None = None) -> str:
    """The test's state as shown: a test left unfinished too long is failed."""
    unfinished = test.state in (JourneyTest.State.QUEUED, JourneyTest.State.RUNNING)
    if unfinished and test.created_at < (now or timezone.now()) - TEST_GIVES_UP:
        return JourneyTest.State.FAILED
    return test.state
