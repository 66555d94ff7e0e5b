"""A journey's definition: the JSON a marketer, a script or the builder writes, checked once.

`definition_check` returns every problem as a sentence with its path (`steps[2].timeout: …`), so
each surface can show them all at once; `definition_parse` turns a valid definition into a
`Definition` the engine reads (typed steps, each with its next steps resolved, durations as
timedeltas). Pure: no database (lists, segments and keywords are checked by the services).

The shape (docs/INTERFACE.md "Journeys"):

    {"name": "Abandoned cart",
     "trigger": {"type": "event", "event": "cart_abandoned"},
     "reentry": "once_per_key",           # once | once_per_key | always | {"after": "P30D"}
     "goal": {"event": "order_placed"},
     "steps": [{"id": "wait1", "type": "wait", "for": "PT1H"}, ...]}

Steps run in order unless one names the next (`next`, or `then`/`else` on `wait_for` and
`branch`, or each branch of a `split`); a step with no next step completes the journey. The
steps form no loop, so an entry takes each step at most once and a send step sends each entry
one message at most.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from django.utils.dateparse import parse_duration

from channels.regional import DLT_ID, IYS_RECIPIENT_TYPES, KR_TITLE_MAX
from channels.registry import UnknownChannel, channel_names, channel_type

STEP_TYPES = ("send", "wait", "wait_for", "branch", "split", "update", "notify", "exit")
TRIGGER_TYPES = ("event", "keyword", "list_joined", "segment", "date_attribute", "message")
# A `message` trigger: what happened to a message Herald sent (journeys/outcomes.py).
OUTCOMES = ("delivered", "failed", "clicked", "replied")
WAIT_FOR_BUILTIN = ("reply", "click", "delivered")
REENTRY = ("once", "once_per_key", "always")
CAP_POLICIES = ("delay", "skip", "exempt")
MAX_STEPS = 100
MAX_WAIT = dt.timedelta(days=366)
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.\-:]{1,100}$")
_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# `{{event.x}}` in a text (a send step's fallback cannot carry the event's values).
EVENT_PLACEHOLDER = re.compile(r"\{\{\s*event\.")
# How long a send step waits for a delivery before its fallback goes (default
# HERALD_FAILOVER_AFTER).
FALLBACK_AFTER = (dt.timedelta(minutes=1), dt.timedelta(days=2))


class DefinitionError(ValueError):
    """A definition that cannot run; `problems` lists every reason with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def duration_parse(value: Any) -> dt.timedelta | None:
    """An ISO 8601 duration (`PT1H`, `P30D`, `-P1D`, `P2W`) as a timedelta, else None."""
    if not isinstance(value, str) or not re.match(r"^[-+]?P", value) or not re.search(r"\d", value):
        return None
    text = value
    weeks = re.fullmatch(r"([-+]?)P(\d+)W", value)
    if weeks:
        text = f"{weeks[1]}P{int(weeks[2]) * 7}D"
    try:
        return parse_duration(text)
    except (ValueError, OverflowError):
        return None


def duration_text(value: dt.timedelta) -> str:
    """A timedelta as the ISO 8601 duration a definition would hold (`PT1H`, `P1DT30M`)."""
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = f"{sign}P" + (f"{days}D" if days else "")
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    time += f"{secs}S" if secs else ""
    return out + (f"T{time}" if time else ("" if days else "T0S"))


def time_parse(value: Any) -> dt.time | None:
    """`HH:MM` as a time; None if it is not one."""
    if not isinstance(value, str) or not _TIME.match(value):
        return None
    return dt.time.fromisoformat(value)


def quiet_hours_parse(value: Any) -> tuple[dt.time, dt.time] | None:
    """`08:00-20:00` as (start, end); None if it is not one (or is empty)."""
    if not isinstance(value, str) or value.count("-") != 1:
        return None
    start, end = (time_parse(part.strip()) for part in value.split("-"))
    if start is None or end is None or start == end:
        return None
    return start, end


@dataclass(frozen=True)
class Step:
    """One step of a parsed definition; `raw` is the step as written (normalised)."""

    id: str
    type: str
    raw: dict[str, Any]
    next: str | None = None  # the step after this one (None: the journey completes)
    then: str | None = None  # wait_for / branch: when it happened / matched
    otherwise: str | None = None  # wait_for / branch: on timeout / no match
    branches: tuple[tuple[str, float, str | None], ...] = ()  # split: (name, weight, next)
    duration: dt.timedelta | None = None  # wait `for`, wait_for `timeout`
    until: dt.time | None = None  # wait `until` a local time of day

    def exits(self) -> list[str | None]:
        """Every step this one may lead to (None: the journey completes)."""
        if self.type == "exit":
            return []
        if self.type in ("wait_for", "branch"):
            return [self.then, self.otherwise]
        if self.type == "split":
            return [nxt for _, _, nxt in self.branches]
        return [self.next]

    @property
    def wait_event(self) -> str:
        """What a wait_for step waits for: reply, click, delivered or event:<name>."""
        event = str(self.raw.get("event", ""))
        return event if event in WAIT_FOR_BUILTIN else f"event:{event}"


@dataclass(frozen=True)
class Definition:
    """A checked definition, as the engine and the services read it."""

    raw: dict[str, Any]
    steps: dict[str, Step]
    first: str
    trigger: dict[str, Any]
    reentry: str  # once | once_per_key | always | cooldown
    cooldown: dt.timedelta | None
    goal_event: str
    caps: str
    quiet_hours: tuple[dt.time, dt.time] | None
    order: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return str(self.raw.get("name", ""))

    def step(self, step_id: str) -> Step:
        return self.steps[step_id]


def definition_check(raw: Any) -> list[str]:
    """Every problem in a definition, as sentences with their path ([] when it can run)."""
    try:
        definition_parse(raw)
    except DefinitionError as exc:
        return exc.problems
    return []


def definition_parse(raw: Any) -> Definition:
    """A valid definition, parsed; DefinitionError lists every problem."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise DefinitionError(["the definition is a JSON object"])
    try:
        if b"\\u0000" in orjson.dumps(raw):  # PostgreSQL can store no NUL character
            raise DefinitionError(["NUL characters are not accepted"])
    except TypeError:
        raise DefinitionError(["the definition is JSON: text, numbers, lists, objects"]) from None
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        problems.append("name: give the journey a name (at most 200 characters)")
    trigger = _trigger(raw.get("trigger"), problems)
    reentry, cooldown = _reentry(raw.get("reentry", "once"), problems)
    goal_event = _goal(raw.get("goal"), problems)
    caps = raw.get("caps", "delay")
    if caps not in CAP_POLICIES:
        problems.append(
            f"caps: one of {', '.join(CAP_POLICIES)} (frequency caps: delay the send, "
            "skip it, or ignore the caps)"
        )
    quiet = None
    if raw.get("quiet_hours") not in (None, ""):
        quiet = quiet_hours_parse(raw["quiet_hours"])
        if quiet is None:
            problems.append("quiet_hours: a sending window such as 08:00-20:00")
    if raw.get("max_spend") not in (None, ""):
        try:
            amount = Decimal(str(raw["max_spend"]))
            if not amount.is_finite() or amount <= 0 or amount >= 10**10:
                raise ValueError
        except (ValueError, ArithmeticError):
            problems.append("max_spend: a positive amount such as 250.00")
    if reentry == "once_per_key" and trigger.get("type") not in ("event", None):
        problems.append("reentry: once_per_key needs an event trigger (the event's key)")
    steps, order = _steps(raw.get("steps"), problems)
    if problems:
        raise DefinitionError(problems)
    return Definition(
        raw=raw,
        steps=steps,
        first=order[0],
        trigger=trigger,
        reentry=reentry,
        cooldown=cooldown,
        goal_event=goal_event,
        caps=str(caps),
        quiet_hours=quiet,
        order=tuple(order),
    )


def _trigger(raw: Any, problems: list[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.append(f"trigger: an object with a type ({', '.join(TRIGGER_TYPES)})")
        return {}
    kind = raw.get("type")
    if kind not in TRIGGER_TYPES:
        problems.append(f"trigger.type: one of {', '.join(TRIGGER_TYPES)}")
        return {}
    if kind == "event" and not _name_ok(raw.get("event")):
        problems.append("trigger.event: the event's name (letters, digits, _ . - :)")
    if kind == "keyword":
        word = raw.get("keyword")
        if not isinstance(word, str) or not word.strip() or len(word.split()) != 1:
            problems.append("trigger.keyword: one word, such as JOIN")
        if not isinstance(raw.get("number", ""), str):
            problems.append("trigger.number: our number the keyword is sent to")
    if kind == "list_joined" and (not isinstance(raw.get("list"), str) or not raw["list"].strip()):
        problems.append("trigger.list: the name of the list")
    if kind == "segment" and (
        not isinstance(raw.get("segment"), str) or not raw["segment"].strip()
    ):
        problems.append("trigger.segment: the name of the segment contacts start matching")
    if kind == "message":
        if raw.get("outcome") not in OUTCOMES:
            problems.append(f"trigger.outcome: one of {', '.join(OUTCOMES)}")
        campaign = raw.get("campaign")
        if campaign is not None and (
            isinstance(campaign, bool) or not isinstance(campaign, int) or campaign <= 0
        ):
            problems.append("trigger.campaign: the campaign's id (leave it out: any campaign)")
    if kind == "date_attribute":
        if not isinstance(raw.get("attribute"), str) or not _ATTRIBUTE.match(raw["attribute"]):
            problems.append("trigger.attribute: the contact attribute holding a date (YYYY-MM-DD)")
        offset = raw.get("offset", "P0D")
        parsed = duration_parse(offset)
        if parsed is None or abs(parsed) > dt.timedelta(days=365):
            problems.append("trigger.offset: an ISO 8601 duration within a year, such as -P1D")
        elif parsed % dt.timedelta(days=1):
            problems.append("trigger.offset: whole days, such as -P1D or P7D")
        if time_parse(raw.get("at", "09:00")) is None:
            problems.append("trigger.at: the local time of day, such as 10:00")
    for side in ("include", "exclude"):
        _audience(raw.get(side), f"trigger.{side}", problems)
    return dict(raw)


def _audience(raw: Any, where: str, problems: list[str]) -> None:
    if raw is None:
        return
    if not isinstance(raw, dict) or set(raw) - {"lists", "segments"}:
        problems.append(f'{where}: {{"lists": [names], "segments": [names]}}')
        return
    for kind in ("lists", "segments"):
        names = raw.get(kind, [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            problems.append(f"{where}.{kind}: a list of names")


def _reentry(raw: Any, problems: list[str]) -> tuple[str, dt.timedelta | None]:
    if isinstance(raw, dict):
        after = duration_parse(raw.get("after"))
        if after is None or after <= dt.timedelta(0) or set(raw) != {"after"}:
            problems.append('reentry: {"after": "P30D"} (a positive ISO 8601 duration)')
            return "cooldown", None
        return "cooldown", after
    if raw not in REENTRY:
        problems.append(f'reentry: one of {", ".join(REENTRY)}, or {{"after": "P30D"}}')
        return "once", None
    return str(raw), None


def _goal(raw: Any, problems: list[str]) -> str:
    if raw in (None, {}):
        return ""
    if not isinstance(raw, dict) or not _name_ok(raw.get("event")):
        problems.append('goal: {"event": "order_placed"}')
        return ""
    return str(raw["event"])


def _name_ok(value: Any) -> bool:
    return isinstance(value, str) and bool(_NAME.match(value))


def _steps(raw: Any, problems: list[str]) -> tuple[dict[str, Step], list[str]]:
    if not isinstance(raw, list) or not raw:
        problems.append("steps: a list of at least one step")
        return {}, [""]
    if len(raw) > MAX_STEPS:
        problems.append(f"steps: at most {MAX_STEPS}")
        return {}, [""]
    ids: list[str] = []
    for index, step in enumerate(raw):
        sid = step.get("id", f"step{index + 1}") if isinstance(step, dict) else ""
        if not isinstance(sid, str) or not _ID.match(sid):
            problems.append(f"steps[{index}].id: letters, digits, _ and - (at most 64)")
            sid = f"#{index}"
        if sid in ids:
            problems.append(f"steps[{index}].id: {sid!r} is used twice")
        ids.append(sid)
    steps: dict[str, Step] = {}
    for index, step in enumerate(raw):
        following = ids[index + 1] if index + 1 < len(raw) else None
        parsed = _step(step, ids[index], following, set(ids), f"steps[{index}]", problems)
        if parsed is not None:
            steps[parsed.id] = parsed
    if not problems:
        _no_loops(steps, ids[0], problems)
    return steps, ids


def _ref(
    value: Any, following: str | None, known: set[str], where: str, problems: list[str]
) -> str | None:
    """A step reference: a known id, or the following step when absent."""
    if value is None:
        return following
    if not isinstance(value, str) or value not in known:
        problems.append(f"{where}: no step with id {value!r}")
        return None
    return value


def _step(
    raw: Any, sid: str, following: str | None, known: set[str], where: str, problems: list[str]
) -> Step | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: a step is an object with a type")
        return None
    kind = raw.get("type")
    if kind not in STEP_TYPES:
        problems.append(f"{where}.type: one of {', '.join(STEP_TYPES)}")
        return None
    raw = {**raw, "id": sid}
    nxt = _ref(raw.get("next"), following, known, f"{where}.next", problems)
    if kind == "send":
        _send(raw, where, problems)
        return Step(sid, kind, raw, next=nxt)
    if kind == "wait":
        return _wait(raw, sid, nxt, where, problems)
    if kind == "wait_for":
        event = raw.get("event")
        if event not in WAIT_FOR_BUILTIN and not _name_ok(event):
            problems.append(f"{where}.event: reply, click, delivered or an event name")
        timeout = duration_parse(raw.get("timeout"))
        if timeout is None or not dt.timedelta(seconds=1) <= timeout <= MAX_WAIT:
            problems.append(f"{where}.timeout: an ISO 8601 duration from PT1S to P366D")
        then = _ref(raw.get("then"), following, known, f"{where}.then", problems)
        other = _ref(raw.get("else"), following, known, f"{where}.else", problems)
        return Step(sid, kind, raw, then=then, otherwise=other, duration=timeout)
    if kind == "branch":
        rule = raw.get("rule")
        if not isinstance(rule, dict) or not isinstance(rule.get("rules"), list):
            problems.append(
                f'{where}.rule: a segment rule group {{"match": "all", "rules": [...]}}'
            )
        then = _ref(raw.get("then"), following, known, f"{where}.then", problems)
        other = _ref(raw.get("else"), following, known, f"{where}.else", problems)
        return Step(sid, kind, raw, then=then, otherwise=other)
    if kind == "split":
        return _split(raw, sid, following, known, where, problems)
    if kind == "update":
        _update(raw, where, problems)
    if kind == "notify" and not isinstance(raw.get("data", {}), dict):
        problems.append(f"{where}.data: an object sent with the event")
    return Step(sid, kind, raw, next=nxt if kind != "exit" else None)


def _send(raw: dict[str, Any], where: str, problems: list[str]) -> None:
    channel = raw.get("channel", "sms")
    raw["channel"] = channel
    try:
        kind = channel_type(channel)  # any registered channel type (channels/registry.py)
    except UnknownChannel:
        problems.append(f"{where}.channel: one of {', '.join(channel_names())}")
        return
    if kind.uses_template:
        for name in ("template", "language"):
            if not isinstance(raw.get(name), str) or not raw[name]:
                problems.append(f"{where}.{name}: required for a WhatsApp template")
        placeholders = raw.get("placeholders", {})
        if not isinstance(placeholders, dict):
            problems.append(f'{where}.placeholders: {{"body": ["{{{{first_name}}}}", ...]}}')
    elif not isinstance(raw.get("text"), str) or not raw["text"].strip():
        problems.append(f"{where}.text: the message text")
    if not isinstance(raw.get("sender", ""), str):
        problems.append(f"{where}.sender: a sender name or number, or auto")
    _regional(raw, where, problems)
    if not isinstance(raw.get("track_links", True), bool):
        problems.append(f"{where}.track_links: true or false")
    if raw.get("caps") is not None and raw["caps"] not in CAP_POLICIES:
        problems.append(f"{where}.caps: one of {', '.join(CAP_POLICIES)}")
    if raw.get("quiet_hours") not in (None, "") and quiet_hours_parse(raw["quiet_hours"]) is None:
        problems.append(f"{where}.quiet_hours: a sending window such as 08:00-20:00")
    _fallback(raw, kind.uses_template, where, problems)


def _fallback(raw: dict[str, Any], templated: bool, where: str, problems: list[str]) -> None:
    """A send step's fallback chain (`["sms"]`, `[{"channel": "sms", "text": …}]`), checked by
    the campaigns' own chain rules (its hidden campaign runs it: campaigns/failover.py)."""
    from campaigns.models import Campaign, FailoverMode
    from campaigns.services import fallback_chain_problems
    from campaigns.steps import fallback_steps

    if raw.get("fallback") in (None, "", []):
        raw.pop("fallback", None)
        if raw.get("fallback_after") not in (None, ""):
            problems.append(f"{where}.fallback_after: only with a fallback chain")
        return
    try:
        chain = fallback_steps(raw["fallback"])
    except ValueError as exc:
        problems.append(f"{where}.fallback: {exc}")
        return
    raw["fallback"] = chain
    text = "" if templated else str(raw.get("text") or "")
    campaign = Campaign(
        channel=raw["channel"], text=text, fallback=chain, failover_mode=FailoverMode.HERALD
    )
    problems.extend(f"{where}.fallback: {p}" for p in fallback_chain_problems(campaign=campaign))
    # A fallback message is rendered from the contact alone (the event is not kept with it).
    for i, step in enumerate(chain):
        if EVENT_PLACEHOLDER.search(step["text"] or text):
            problems.append(
                f"{where}.fallback[{i}].text: {{{{event.…}}}} values cannot reach a fallback "
                "message; give the step its own text with contact values only"
            )
    if raw.get("fallback_after") not in (None, ""):
        after = duration_parse(raw["fallback_after"])
        if after is None or not FALLBACK_AFTER[0] <= after <= FALLBACK_AFTER[1]:
            problems.append(
                f"{where}.fallback_after: how long a step waits for its delivery before the "
                "next one goes, an ISO 8601 duration from PT1M to P2D"
            )


def _regional(raw: dict[str, Any], where: str, problems: list[str]) -> None:
    """A send step's countries' rules (docs/COUNTRIES.md): well formed, or named."""
    dlt = raw.get("dlt_template_id", "")
    if not isinstance(dlt, str) or (dlt and not DLT_ID.fullmatch(dlt)):
        problems.append(f"{where}.dlt_template_id: India's DLT content template id (digits)")
    if raw.get("iys_recipient_type", "") not in ("", *IYS_RECIPIENT_TYPES):
        problems.append(f"{where}.iys_recipient_type: one of {', '.join(IYS_RECIPIENT_TYPES)}")
    title = raw.get("kr_title", "")
    if not isinstance(title, str) or len(title) > KR_TITLE_MAX:
        problems.append(f"{where}.kr_title: South Korea's title, up to {KR_TITLE_MAX} characters")


def _wait(raw: dict[str, Any], sid: str, nxt: str | None, where: str, problems: list[str]) -> Step:
    if "until" in raw:
        until = time_parse(raw["until"])
        if until is None:
            problems.append(f"{where}.until: the contact's local time of day, such as 10:00")
        return Step(sid, "wait", raw, next=nxt, until=until)
    duration = duration_parse(raw.get("for"))
    if duration is None or not dt.timedelta(0) <= duration <= MAX_WAIT:
        problems.append(f'{where}.for: an ISO 8601 duration up to P366D (or "until": "10:00")')
    return Step(sid, "wait", raw, next=nxt, duration=duration)


def _split(
    raw: dict[str, Any],
    sid: str,
    following: str | None,
    known: set[str],
    where: str,
    problems: list[str],
) -> Step:
    branches = raw.get("branches")
    parsed: list[tuple[str, float, str | None]] = []
    if not isinstance(branches, list) or not 2 <= len(branches) <= 10:
        problems.append(f'{where}.branches: 2 to 10 of {{"name": "A", "weight": 50, "next": id}}')
        return Step(sid, "split", raw)
    for i, branch in enumerate(branches):
        here = f"{where}.branches[{i}]"
        if not isinstance(branch, dict):
            problems.append(f"{here}: an object")
            continue
        weight = branch.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            problems.append(f"{here}.weight: a number, 0 or more")
            weight = 0
        label = branch.get("name", chr(65 + i))
        if not isinstance(label, str) or not label:
            problems.append(f"{here}.name: a short name such as A")
        nxt = _ref(branch.get("next"), following, known, f"{here}.next", problems)
        parsed.append((str(label), float(weight), nxt))
    if parsed and sum(w for _, w, _ in parsed) <= 0:
        problems.append(f"{where}.branches: at least one weight above 0")
    return Step(sid, "split", raw, branches=tuple(parsed))


def _update(raw: dict[str, Any], where: str, problems: list[str]) -> None:
    known = {"id", "type", "next", "add_to_lists", "remove_from_lists", "set", "consent"}
    if unknown := sorted(set(raw) - known):
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
    for name in ("add_to_lists", "remove_from_lists"):
        value = raw.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problems.append(f"{where}.{name}: a list of list names")
    values = raw.get("set", {})
    if not isinstance(values, dict) or not all(_ATTRIBUTE.match(str(k)) for k in values):
        problems.append(f'{where}.set: attributes to set, such as {{"vip": "yes"}}')
    elif not all(v is None or isinstance(v, str | int | float | bool) for v in values.values()):
        problems.append(f"{where}.set: values are text, numbers, true/false or null")
    if raw.get("consent") not in (None, "opt_in", "opt_out"):
        problems.append(f"{where}.consent: opt_in or opt_out")
    if not any(raw.get(n) for n in ("add_to_lists", "remove_from_lists", "set", "consent")):
        problems.append(
            f"{where}: say what to change (add_to_lists, remove_from_lists, set, consent)"
        )


def _no_loops(steps: dict[str, Step], first: str, problems: list[str]) -> None:
    """Refuse a definition whose steps lead back to a step already taken."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(sid: str, path: list[str]) -> bool:
        if state.get(sid) == 2:
            return True
        if state.get(sid) == 1:
            loop = " → ".join([*path[path.index(sid) :], sid])
            problems.append(f"steps: a loop ({loop}); a step may lead only to later steps")
            return False
        state[sid] = 1
        for nxt in steps[sid].exits():
            if nxt is not None and not visit(nxt, [*path, sid]):
                return False
        state[sid] = 2
        return True

    for sid in steps:
        if not visit(sid, []):
            return
    del first
