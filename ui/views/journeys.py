"""Journeys in the browser: the list, the builder (a vertical flow of steps with live counts),
the draft's edits, validation and activation, the lifecycle, and the per-contact inspector.

Every change is a call to journeys/services.py (`journey_update` with the whole draft,
`journey_activate`, …): the same rules as the admin, the command and the API. Forms are plain
fields turned into the definition by ui/journey_forms.py; htmx swaps a step's card for its form
and back, and refreshes the counts.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.timezone import localtime
from django.views.decorators.http import require_POST

from campaigns.caps import caps_configured
from campaigns.models import Campaign, Segment
from channels.base import ChannelType
from channels.registry import UnknownChannel, channel_choices, channel_type, fallback_choices
from contacts.models import Contact, ContactList
from contacts.phones import PhoneChecker, PhoneError
from core.rules import Refused
from journeys.inspect import entries_inspect
from journeys.models import Journey, JourneyTest
from journeys.services import (
    JourneyError,
    journey_activate,
    journey_archive,
    journey_create,
    journey_entries_move,
    journey_pause,
    journey_resume,
    journey_status,
    journey_test_start,
    journey_test_state,
    journey_update,
    journey_validate,
)
from ui import journey_forms as jf
from ui.access import AuthenticatedRequest, page
from ui.words import timedelta_words

VIEW, EDIT = "journeys.view_journey", "journeys.change_journey"
ACTIONS: dict[str, tuple[Callable[..., Any] | None, str]] = {
    "activate": (journey_activate, "Activated: the draft is the live version now."),
    "pause": (journey_pause, "Paused: every wait and send is held."),
    "resume": (journey_resume, "Resumed."),
    "move": (journey_entries_move, "Contacts in flight moved to the live version."),
    "archive_finish": (None, "Archived: nobody new enters; contacts in flight finish."),
    "archive_stop": (None, "Archived: every contact in flight has left."),
}


@page(VIEW)
def journey_list(request: AuthenticatedRequest) -> HttpResponse:
    """GET: every journey with its state and counts; POST: a new draft from a starter."""
    problems: list[str] = []
    if request.method == "POST":
        if not request.user.has_perm("journeys.add_journey"):
            return HttpResponse("You may not create journeys.", status=403)
        name = request.POST.get("name", "").strip()
        starter = request.POST.get("starter", "blank")
        try:
            journey = journey_create(
                definition=jf.starter(starter, name), actor=request.user, strict=False
            )
        except (JourneyError, Refused) as exc:
            problems = getattr(exc, "problems", [str(exc)])
        else:
            return redirect("ui:journey", pk=journey.pk)
    rows = []
    for journey in Journey.objects.select_related("version").order_by("-id")[:200]:
        status = journey_status(journey=journey)
        rows.append({"journey": journey, "counts": status["counts"]})
    context = {"rows": rows, "problems": problems, "name": request.POST.get("name", "")}
    return render(request, "ui/journeys.html", context, status=400 if problems else 200)


def _rules(step: dict[str, Any], draft: dict[str, Any]) -> list[str]:
    """What holds on a send step, in words (shown on its card)."""
    out = []
    quiet = step.get("quiet_hours") or draft.get("quiet_hours")
    if quiet:
        out.append(f"Quiet hours: sends only {quiet} in the contact's time, else waits")
    elif settings.HERALD_COUNTRY_QUIET_HOURS:
        out.append("Quiet hours: the country's default (US 08:00–21:00, stricter states)")
    try:
        kind: ChannelType | None = channel_type(step.get("channel", "sms"))
    except UnknownChannel:
        kind = None
    medium = kind.ledger if kind else ""
    caps = [c.label().removesuffix(" reached") for c in caps_configured() if c.applies_to(medium)]
    policy = step.get("caps") or draft.get("caps") or "delay"
    if caps:
        verbs = {
            "delay": "waits until it frees",
            "skip": "skips this send",
            "exempt": "does not apply here",
        }
        verb = verbs.get(policy, policy)
        out.append(f"Frequency caps ({'; '.join(caps)}): a capped contact {verb}")
    out.append("Opted-out contacts leave the journey before this send")
    if chain := jf.fallback_words(step):
        after = step.get("fallback_after")
        window = jf.duration_words(after) if after else _hours(settings.HERALD_FAILOVER_AFTER)
        out.append(f"Not delivered within {window}: {chain} (each once, only the undelivered)")
    if kind and kind.session_window:
        hours = int(kind.session_window.total_seconds() // 3600)
        out.append(f"{kind.label}: only inside the {hours}-hour window")
    if kind and kind.opt_in_required():
        out.append(f"{kind.medium_label}: only contacts with a {kind.medium_label} opt-in")
    tracked_by_default = bool(kind and kind.tracks_links_by_default)
    if step.get("track_links", tracked_by_default and "http" in step.get("text", "")):
        out.append("Links are tracked (clicks counted)")
    if draft.get("max_spend"):
        out.append(f"Budget: the journey pauses at {draft['max_spend']} spent")
    return out


def _hours(seconds: int) -> str:
    return jf.duration_words(f"PT{seconds}S")


def _flow(journey: Journey, problems: list[str]) -> dict[str, Any]:
    """The builder's view of the draft: step cards with exits, counts, rules and problems."""
    draft = journey.draft if isinstance(journey.draft, dict) else {}
    steps = [s for s in draft.get("steps") or [] if isinstance(s, dict)]
    status = journey_status(journey=journey)
    counts = {s["id"]: s for s in status["steps"]}
    by_step, general = jf.problems_by_step(problems, draft.get("steps") or [])
    ids = [str(s.get("id", f"step{i + 1}")) for i, s in enumerate(steps)]
    cards: list[dict[str, Any]] = []
    incoming: dict[str, list[str]] = {}
    for index, step in enumerate(steps):
        sid = ids[index]
        following = ids[index + 1] if index + 1 < len(ids) else None
        kind = step.get("type", "")
        exits: list[tuple[str, str | None]] = []
        if kind in ("wait_for", "branch"):
            yes = "happened" if kind == "wait_for" else "matches"
            exits = [
                (yes, step.get("then") or following),
                (
                    "timed out" if kind == "wait_for" else "does not match",
                    step.get("else") or following,
                ),
            ]
        elif kind == "split":
            exits = [
                (str(b.get("name")), b.get("next") or following)
                for b in step.get("branches") or []
                if isinstance(b, dict)
            ]
        elif kind != "exit":
            exits = [("next", step.get("next") or following)]
        for label, target in exits:
            if target and not (label == "next" and target == following):
                incoming.setdefault(target, []).append(f"{sid} ({label})")
        cards.append(
            {
                "id": sid,
                "index": index,
                "type": kind,
                "raw": step,
                "label": jf.STEP_LABELS.get(kind, kind),
                "summary": jf.step_summary(step),
                "exits": [(label, target or "the end (completed)") for label, target in exits],
                "branching": len(exits) > 1,
                "counts": counts.get(sid),
                "rules": _rules(step, draft) if kind == "send" else [],
                "problems": by_step.get(sid, []),
                "first": index == 0,
                "last": index == len(steps) - 1,
                "jump": exits[0][1] or "the end (completed)"
                if len(exits) == 1 and exits[0][1] != following
                else None,
            }
        )
    for card in cards:
        card["incoming"] = incoming.get(card["id"], [])
    return {
        "cards": cards,
        "general": general,
        "status": status,
        "draft": draft,
        "step_types": list(jf.STEP_LABELS.items()),
        "has_step_problems": any(card["problems"] for card in cards),
    }


def _context(
    request: HttpRequest, journey: Journey, problems: list[str] | None = None
) -> dict[str, Any]:
    flow = _flow(journey, problems or [])
    return {
        "journey": journey,
        **flow,
        "can_edit": request.user.has_perm(EDIT) and journey.state != "archived",
        "can_send": request.user.has_perm("ui.launch_campaign"),
        "lists": ContactList.objects.order_by("name"),
        "validated": problems is not None,
        "test_script": jf.test_script(
            journey.draft if isinstance(journey.draft, dict) else {}, timezone.now()
        ),
        "last_test": journey.tests.first(),
    }


@page(VIEW)
def journey_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The builder: the draft as a vertical flow, with the live version's counts."""
    journey = get_object_or_404(Journey.objects.select_related("version"), pk=pk)
    return render(request, "ui/journey.html", _context(request, journey))


@page(VIEW)
def journey_counts(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """htmx: every step's counts, swapped into place out of band (polled)."""
    journey = get_object_or_404(Journey.objects.select_related("version"), pk=pk)
    status = journey_status(journey=journey)
    return render(request, "ui/_journey_counts.html", {"journey": journey, "status": status})


def _save(request: HttpRequest, journey: Journey, draft: dict[str, Any]) -> list[str]:
    """Save the draft through the service; the problems of the whole definition (or [])."""
    try:
        journey_update(journey=journey, definition=draft, actor=request.user, strict=False)
    except (JourneyError, Refused) as exc:
        return getattr(exc, "problems", [str(exc)])
    return journey_validate(definition=draft, journey=journey)


def _steps(journey: Journey) -> list[dict[str, Any]]:
    draft = journey.draft if isinstance(journey.draft, dict) else {}
    return [s for s in copy.deepcopy(draft.get("steps") or []) if isinstance(s, dict)]


def _builder(request: HttpRequest, journey: Journey, problems: list[str]) -> HttpResponse:
    journey.refresh_from_db()
    return render(request, "ui/_journey_flow.html", _context(request, journey, problems))


@page(EDIT)
def journey_step(request: AuthenticatedRequest, pk: int, step_id: str) -> HttpResponse:
    """GET: a step's form (htmx); POST: save it into the draft and show the flow again."""
    journey = get_object_or_404(Journey, pk=pk)
    steps = _steps(journey)
    index = next((i for i, s in enumerate(steps) if str(s.get("id")) == step_id), None)
    if index is None:
        return HttpResponse("No such step in the draft.", status=404)
    step = steps[index]
    if request.method == "POST":
        new, unreadable = jf.step_from_form(request.POST, str(step.get("type")), step_id)
        steps[index] = new
        problems = unreadable + _save(request, journey, {**journey.draft, "steps": steps})
        return _builder(request, journey, problems)
    amount, unit = jf.duration_fields(step.get("for") or step.get("timeout"))
    context = {
        "journey": journey,
        "step": step,
        "amount": amount,
        "unit": unit,
        "units": jf.UNITS,
        "others": [str(s.get("id")) for s in steps if s is not step],
        "channels": channel_choices(),
        "placeholders": "\n".join((step.get("placeholders") or {}).get("body") or []),
        "set_lines": "\n".join(f"{k}={v}" for k, v in (step.get("set") or {}).items()),
        "rule_single": _single_rule(step.get("rule")),
        "rule_json": json.dumps(step.get("rule"), indent=1)
        if step.get("rule", {}).get("rules") and not _single_rule(step.get("rule"))
        else "",
        "data_json": json.dumps(step.get("data") or {}, indent=1),
        "branches": (step.get("branches") or []) + [{}] * (4 - len(step.get("branches") or [])),
        "fallback_channels": fallback_choices(),
        "fallback_rows": jf.fallback_rows(step),
        "fallback_amount": jf.duration_fields(step["fallback_after"])[0]
        if step.get("fallback_after")
        else "",
        "fallback_unit": jf.duration_fields(step["fallback_after"])[1]
        if step.get("fallback_after")
        else "hours",
    }
    return render(request, "ui/_journey_step_form.html", context)


def _single_rule(rule: Any) -> dict[str, Any] | None:
    """The branch's one condition when it has exactly one (the simple form), else None."""
    if isinstance(rule, dict) and isinstance(rule.get("rules"), list) and len(rule["rules"]) == 1:
        only = rule["rules"][0]
        if isinstance(only, dict) and "rules" not in only:
            value = only.get("value", "")
            return {**only, "value": ", ".join(value) if isinstance(value, list) else value}
    return None


@require_POST
@page(EDIT)
def journey_step_add(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Add a step of a type after a step (or first), then open its form."""
    journey = get_object_or_404(Journey, pk=pk)
    steps = _steps(journey)
    kind = request.POST.get("type", "")
    if kind not in jf.STEP_LABELS:
        return HttpResponse("Choose a step type.", status=400)
    after = request.POST.get("after", "")
    position = next((i + 1 for i, s in enumerate(steps) if str(s.get("id")) == after), len(steps))
    step_id = jf.new_step_id(kind, steps)
    defaults: dict[str, dict[str, Any]] = {
        "send": {"channel": "sms", "text": ""},
        "wait": {"for": "PT1H"},
        "wait_for": {"event": "reply", "timeout": "P1D"},
        "branch": {"rule": {"match": "all", "rules": []}},
        "split": {"branches": [{"name": "A", "weight": 50}, {"name": "B", "weight": 50}]},
        "update": {"set": {}},
        "notify": {"data": {}},
        "exit": {},
    }
    steps.insert(position, {"id": step_id, "type": kind, **defaults[kind]})
    problems = _save(request, journey, {**journey.draft, "steps": steps})
    return _builder(request, journey, problems)


@require_POST
@page(EDIT)
def journey_step_remove(request: AuthenticatedRequest, pk: int, step_id: str) -> HttpResponse:
    """Remove a step from the draft (references to it are reported by validation)."""
    journey = get_object_or_404(Journey, pk=pk)
    steps = [s for s in _steps(journey) if str(s.get("id")) != step_id]
    problems = _save(request, journey, {**journey.draft, "steps": steps})
    return _builder(request, journey, problems)


@require_POST
@page(EDIT)
def journey_step_move(request: AuthenticatedRequest, pk: int, step_id: str) -> HttpResponse:
    """Move a step up or down in the draft's order."""
    journey = get_object_or_404(Journey, pk=pk)
    steps = _steps(journey)
    index = next((i for i, s in enumerate(steps) if str(s.get("id")) == step_id), None)
    other = None if index is None else index + (-1 if request.POST.get("to") == "up" else 1)
    if index is not None and other is not None and 0 <= other < len(steps):
        steps[index], steps[other] = steps[other], steps[index]
    problems = _save(request, journey, {**journey.draft, "steps": steps})
    return _builder(request, journey, problems)


@page(EDIT)
def journey_settings(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET: the trigger and rules form; POST: save them into the draft, back to the builder."""
    journey = get_object_or_404(Journey, pk=pk)
    draft = journey.draft if isinstance(journey.draft, dict) else {}
    if request.method == "POST":
        problems = _save(request, journey, jf.settings_from_form(request.POST, draft))
        if problems:
            messages.warning(
                request, "Saved, with problems to fix before activating: " + "; ".join(problems[:5])
            )
        else:
            messages.success(request, "The trigger and rules are saved.")
        return redirect("ui:journey", pk=journey.pk)
    raw_trigger = draft.get("trigger")
    trigger: dict[str, Any] = raw_trigger if isinstance(raw_trigger, dict) else {}
    reentry = draft.get("reentry", "once")
    cooldown = jf.duration_fields(reentry.get("after"))[0] if isinstance(reentry, dict) else ""
    offset = str(trigger.get("offset", "P0D"))
    context = {
        "journey": journey,
        "draft": draft,
        "trigger": trigger,
        "reentry": "cooldown" if isinstance(reentry, dict) else reentry,
        "cooldown_days": cooldown,
        "offset_days": offset.replace("P", "").replace("D", "") if offset.endswith("D") else offset,
        "lists": ContactList.objects.order_by("name"),
        "segments": Segment.objects.order_by("name"),
        # Campaigns whose messages a `message` trigger may name (a journey's own are not).
        "campaigns": Campaign.objects.filter(open_ended=False).order_by("-id")[:200],
        "outcomes": jf.OUTCOME_WORDS,
        "included": (trigger.get("include") or {}).get("lists") or [],
        "excluded": (trigger.get("exclude") or {}).get("lists") or [],
        "included_segments": (trigger.get("include") or {}).get("segments") or [],
        "excluded_segments": (trigger.get("exclude") or {}).get("segments") or [],
        "goal": goal.get("event", "") if isinstance(goal := draft.get("goal"), dict) else "",
    }
    return render(request, "ui/journey_settings.html", context)


@require_POST
@page(VIEW)
def journey_check(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Validate the draft as activation would; the flow with every problem on its step."""
    journey = get_object_or_404(Journey, pk=pk)
    problems = journey_validate(definition=journey.draft, journey=journey)
    return _builder(request, journey, problems)


@require_POST
@page(VIEW)
def journey_action(request: AuthenticatedRequest, pk: int, action: str) -> HttpResponse:
    """Activate, pause, resume, archive (finish or stop) or move: the services decide."""
    journey = get_object_or_404(Journey, pk=pk)
    if action not in ACTIONS:
        return HttpResponse("Unknown action.", status=404)
    service, done = ACTIONS[action]
    try:
        if action.startswith("archive"):
            journey_archive(journey=journey, actor=request.user, mode=action.split("_")[1])
        else:
            assert service is not None
            service(journey=journey, actor=request.user)
    except JourneyError as exc:
        messages.error(request, "Not done: " + "; ".join(exc.problems))
    except Refused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("ui:journey", pk=journey.pk)


@require_POST
@page(VIEW)
def journey_backtest_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The draft replayed over the last days' real triggers (nothing sent, nothing kept)."""
    from journeys.simulate import journey_backtest

    journey = get_object_or_404(Journey, pk=pk)
    days = request.POST.get("days", "30")
    problems: list[str] = []
    report = None
    if not days.isascii() or not days.isdigit():
        problems = ["days: a whole number of days, 1 to 366"]
    else:
        try:
            report = journey_backtest(journey=journey, days=int(days), actor=request.user)
        except (JourneyError, Refused) as exc:
            problems = getattr(exc, "problems", [str(exc)])
    context = {"journey": journey, "report": report, "problems": problems, "days": days}
    return render(request, "ui/_journey_backtest.html", context, status=400 if problems else 200)


@require_POST
@page(VIEW)
def journey_test_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Test the draft for scripted test contacts (a scratch database, the sandbox, simulated
    time): queued here, run by a worker; the answer polls for the report."""
    journey = get_object_or_404(Journey, pk=pk)
    try:
        test = journey_test_start(
            journey=journey, events=request.POST.get("events", ""), actor=request.user
        )
    except (JourneyError, Refused) as exc:
        problems = getattr(exc, "problems", [str(exc)])
        context = {"journey": journey, "problems": problems}
        return render(request, "ui/_journey_test.html", context, status=400)
    return _test_fragment(request, journey, test)


@page(VIEW)
def journey_test_result(request: AuthenticatedRequest, pk: int, test_id: int) -> HttpResponse:
    """A test's state, then its report: what each test contact got, and when."""
    journey = get_object_or_404(Journey, pk=pk)
    test = get_object_or_404(JourneyTest, pk=test_id, journey=journey)
    return _test_fragment(request, journey, test)


def _after_words(start: dt.datetime | None, at: object) -> str:
    """When a test step happened after the test's start, as people say it ("in 1 day 1 hour")."""
    moment = parse_datetime(str(at or ""))
    if start is None or moment is None:
        return ""
    if moment <= start:
        return "at the start"
    return f"in {timedelta_words(moment - start)}"


def _test_fragment(request: HttpRequest, journey: Journey, test: JourneyTest) -> HttpResponse:
    state = journey_test_state(test=test)
    people = []
    start = parse_datetime(str((test.report or {}).get("start") or ""))
    for phone, steps in ((test.report or {}).get("contacts") or {}).items():
        for step in steps:
            step["when"] = _after_words(start, step.get("at"))
        people.append({"phone": phone, "steps": steps})
    context = {
        "journey": journey,
        "test": test,
        "state": state,
        "people": people,
        "waiting": state in ("queued", "running"),
    }
    return render(request, "ui/_journey_test.html", context)


@page(VIEW)
def journey_people(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The per-contact inspector: a number's entries and each one's story (or the latest)."""
    journey = get_object_or_404(Journey, pk=pk)
    phone, problem, contact = request.GET.get("phone", "").strip(), "", None
    if phone:
        try:
            e164 = PhoneChecker().check(phone).e164
        except PhoneError as exc:
            problem = f"That is not a phone number: {exc}"
        else:
            contact = Contact.objects.filter(phone=e164).first()
            if contact is None:
                problem = f"No contact with the number {e164}."
    entries = [] if problem else entries_inspect(journey=journey, contact=contact, limit=25)
    for entry in entries:
        for step in entry["steps"]:
            at = parse_datetime(step["at"])
            step["when"] = localtime(at).strftime("%d %b %H:%M") if at else ""
    context = {"journey": journey, "entries": entries, "phone": phone, "problem": problem}
    return render(request, "ui/journey_people.html", context, status=400 if problem else 200)
