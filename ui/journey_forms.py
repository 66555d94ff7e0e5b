"""The builder's forms ↔ a journey definition: plain fields in, the definition's JSON out.

Pure functions: the views read a POST into a step (or the journey's settings) and hand the
whole draft to `journeys.services.journey_update`, which is where the rules live; what the
definition checks refuse comes back by path (`steps[2].timeout`) and is shown on its step.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from campaigns.rendering import placeholder_names
from channels.registry import UnknownChannel, channel_type
from journeys.spec import duration_parse

UNITS = (
    ("seconds", "seconds", 1),
    ("minutes", "minutes", 60),
    ("hours", "hours", 3600),
    ("days", "days", 86400),
)
STEP_LABELS = {
    "send": "Send a message",
    "wait": "Wait",
    "wait_for": "Wait for a reply, click, delivery or event",
    "branch": "Branch on a rule",
    "split": "Random split",
    "update": "Update the contact",
    "notify": "Notify another system",
    "exit": "Exit",
}


def _templated(channel: str) -> bool:
    """Whether a send step's channel is a registered type that sends templates."""
    try:
        return channel_type(channel).uses_template
    except UnknownChannel:
        return False


def _label(channel: str) -> str:
    try:
        return channel_type(channel).label
    except UnknownChannel:
        return channel


_STEP_PATH = re.compile(r"^steps\[(\d+)\](?:\.(\S+))?$")


def duration_iso(amount: str, unit: str) -> str:
    """An ISO 8601 duration from an amount and a unit ('' when the amount is not a number)."""
    if not amount.strip().isdigit():
        return amount.strip()  # left as typed: the definition check names the problem
    n = int(amount)
    return {"seconds": f"PT{n}S", "minutes": f"PT{n}M", "hours": f"PT{n}H"}.get(unit, f"P{n}D")


def duration_fields(value: Any) -> tuple[str, str]:
    """(amount, unit) for an ISO 8601 duration, in the largest unit that divides it."""
    parsed = duration_parse(value)
    if parsed is None:
        return (str(value or ""), "hours")
    seconds = int(parsed.total_seconds())
    for _, unit, size in reversed(UNITS):
        if seconds % size == 0 and seconds:
            return str(seconds // size), unit
    return str(seconds), "seconds"


def duration_words(value: Any) -> str:
    """`PT1H` as "1 hour", `P2D` as "2 days"."""
    amount, unit = duration_fields(value)
    if amount == "1":
        unit = unit[:-1]
    return f"{amount} {unit}"


def _lines(raw: str) -> list[str]:
    return [line.strip() for line in raw.replace(",", "\n").splitlines() if line.strip()]


def _pairs(raw: str) -> dict[str, str]:
    pairs = {}
    for line in raw.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            pairs[key.strip()] = value.strip()
    return pairs


def step_from_form(post: Any, step_type: str, step_id: str) -> tuple[dict[str, Any], list[str]]:
    """A step from the builder's form fields; also what could not be read (as sentences)."""
    problems: list[str] = []
    step: dict[str, Any] = {"id": step_id, "type": step_type}
    nxt = post.get("next", "")
    if nxt and step_type not in ("exit", "wait_for", "branch", "split"):
        step["next"] = nxt
    if step_type == "send":
        step["channel"] = post.get("channel", "sms")
        if _templated(step["channel"]):
            step["template"] = post.get("template", "").strip()
            step["language"] = post.get("language", "").strip()
            body = [line for line in post.get("placeholders", "").splitlines() if line]
            step["placeholders"] = {"body": body}
        else:
            step["text"] = post.get("text", "")
        for name in ("sender", "quiet_hours", "caps"):
            if post.get(name, "").strip():
                step[name] = post.get(name).strip()
        step["track_links"] = post.get("track_links") == "on"
        if chain := fallback_from_form(post):
            step["fallback"] = chain
            if post.get("fallback_amount", "").strip():
                step["fallback_after"] = duration_iso(
                    post.get("fallback_amount", ""), post.get("fallback_unit", "hours")
                )
    elif step_type == "wait":
        if post.get("mode") == "until":
            step["until"] = post.get("until", "").strip()
        else:
            step["for"] = duration_iso(post.get("amount", ""), post.get("unit", "hours"))
    elif step_type == "wait_for":
        event = post.get("event", "reply")
        step["event"] = post.get("event_name", "").strip() if event == "other" else event
        step["timeout"] = duration_iso(post.get("amount", ""), post.get("unit", "days"))
        _exits(step, post)
    elif step_type == "branch":
        step["rule"] = _rule(post, problems)
        _exits(step, post)
    elif step_type == "split":
        branches = []
        for i in range(4):
            name, weight = post.get(f"branch_name_{i}", "").strip(), post.get(f"weight_{i}", "")
            if not name and not weight.strip():
                continue
            branch: dict[str, Any] = {"name": name or chr(65 + i)}
            try:
                branch["weight"] = float(weight) if "." in weight else int(weight)
            except ValueError:
                branch["weight"] = weight  # the definition check names the problem
            if post.get(f"next_{i}"):
                branch["next"] = post.get(f"next_{i}")
            branches.append(branch)
        step["branches"] = branches
    elif step_type == "update":
        if lists := _lines(post.get("add_to_lists", "")):
            step["add_to_lists"] = lists
        if lists := _lines(post.get("remove_from_lists", "")):
            step["remove_from_lists"] = lists
        if pairs := _pairs(post.get("set", "")):
            step["set"] = pairs
        if post.get("consent") in ("opt_in", "opt_out"):
            step["consent"] = post.get("consent")
    elif step_type == "notify":
        step["data"] = _json(post.get("data", "") or "{}", "data", problems)
    return step, problems


def _exits(step: dict[str, Any], post: Any) -> None:
    for name in ("then", "else"):
        if post.get(name):
            step[name] = post.get(name)


def _json(raw: str, what: str, problems: list[str]) -> object:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        problems.append(f"{what}: not JSON ({exc.msg}, line {exc.lineno})")
        return {}


def _rule(post: Any, problems: list[str]) -> object:
    """A branch rule: the advanced JSON when given, else the one condition of the form."""
    if post.get("rule_json", "").strip():
        return _json(post["rule_json"], "rule", problems)
    field, key, op = (
        post.get("cond_field", "event"),
        post.get("cond_key", "").strip(),
        post.get("cond_op", "eq"),
    )
    value: Any = post.get("cond_value", "").strip()
    rule: dict[str, Any] = {"field": field, "op": op}
    if field in ("event", "attribute"):
        rule["key"] = key
    if field == "list":
        rule["op"] = "in" if op in ("eq", "in") else "not_in"
        value = _lines(value)
    elif op in ("in", "not_in"):
        value = _lines(value)
    if op not in ("empty", "not_empty"):
        rule["value"] = value
    return {"match": "all", "rules": [rule]}


# A `message` trigger's outcomes, as the settings form words them.
OUTCOME_WORDS = (
    ("delivered", "is delivered"),
    ("failed", "fails (after its fallback chain)"),
    ("clicked", "is clicked"),
    ("replied", "gets a reply"),
)


def settings_from_form(post: Any, draft: dict[str, Any]) -> dict[str, Any]:
    """The draft with the settings form applied (name, trigger, re-entry, goal, rules)."""
    out = {k: v for k, v in draft.items() if k == "steps"}
    out["name"] = post.get("name", "").strip()
    kind = post.get("trigger_type", "event")
    trigger: dict[str, Any] = {"type": kind}
    if kind == "event":
        trigger["event"] = post.get("event", "").strip()
    elif kind == "keyword":
        trigger["keyword"] = post.get("keyword", "").strip()
        trigger["number"] = post.get("number", "").strip()
    elif kind == "list_joined":
        trigger["list"] = post.get("list", "").strip()
    elif kind == "segment":
        trigger["segment"] = post.get("segment", "").strip()
    elif kind == "message":
        trigger["outcome"] = post.get("outcome", "").strip()
        campaign = post.get("campaign", "").strip()
        if campaign:
            # Not a number: kept as given, so the definition's check names the problem.
            trigger["campaign"] = (
                int(campaign) if campaign.isascii() and campaign.isdigit() else campaign
            )
    elif kind == "date_attribute":
        trigger["attribute"] = post.get("attribute", "").strip()
        days = post.get("offset_days", "0").strip() or "0"
        sign = "-" if days.startswith("-") else ""
        trigger["offset"] = f"{sign}P{days.lstrip('+-')}D" if days.lstrip("+-").isdigit() else days
        trigger["at"] = post.get("at", "09:00").strip()
    for side in ("include", "exclude"):
        audience = {}
        for kind_of in ("lists", "segments"):
            names = post.getlist(f"{side}_{kind_of}") if hasattr(post, "getlist") else []
            if names:
                audience[kind_of] = names
        if audience:
            trigger[side] = audience
    out["trigger"] = trigger
    reentry = post.get("reentry", "once")
    if reentry == "cooldown":
        out["reentry"] = {"after": duration_iso(post.get("cooldown_days", ""), "days")}
    else:
        out["reentry"] = reentry
    if post.get("goal", "").strip():
        out["goal"] = {"event": post.get("goal").strip()}
    for name in ("quiet_hours", "max_spend"):
        if post.get(name, "").strip():
            out[name] = post.get(name).strip()
    out["caps"] = post.get("caps", "delay")
    out.setdefault("steps", draft.get("steps") or [])
    return out


def problems_by_step(
    problems: list[str], steps: list[dict[str, Any]]
) -> tuple[dict[str, list[str]], list[str]]:
    """Problems keyed by step id (`steps[i]…`), and the journey-wide rest."""
    by_step: dict[str, list[str]] = {}
    rest = []
    for problem in problems:
        path, _, message = problem.partition(": ")
        match = _STEP_PATH.match(path)
        index = int(match.group(1)) if match else -1
        if match and 0 <= index < len(steps) and isinstance(steps[index], dict):
            field = match.group(2)
            text = f"{field}: {message}" if field else message
            by_step.setdefault(str(steps[index].get("id", f"step{index + 1}")), []).append(text)
        else:
            rest.append(problem)
    return by_step, rest


def new_step_id(step_type: str, steps: list[dict[str, Any]]) -> str:
    """A fresh step id for a type (`send1`, `wait2` …)."""
    taken = {str(s.get("id")) for s in steps if isinstance(s, dict)}
    n = 1
    while f"{step_type}{n}" in taken:
        n += 1
    return f"{step_type}{n}"


# The send step's fallback chain in the builder: up to three steps, as the wizard offers.
FALLBACK_ROWS = 3


def fallback_from_form(post: Any) -> list[dict[str, Any]]:
    """The send step's chain from its rows (a channel, its own text, sender), blank rows left
    out; what cannot follow is the definition check's to say."""
    chain = []
    for i in range(FALLBACK_ROWS):
        channel = post.get(f"fallback_{i}", "").strip()
        if not channel:
            continue
        item: dict[str, Any] = {"channel": channel, "text": post.get(f"fallback_text_{i}", "")}
        if sender := post.get(f"fallback_sender_{i}", "").strip():
            item["sender"] = sender
        chain.append(item)
    return chain


def fallback_rows(step: dict[str, Any]) -> list[dict[str, Any]]:
    """The send step's chain as the form's rows (blank rows up to FALLBACK_ROWS)."""
    chain = [s for s in step.get("fallback") or [] if isinstance(s, dict | str)]
    rows = [{"channel": s, "text": "", "sender": ""} if isinstance(s, str) else s for s in chain]
    rows = rows[:FALLBACK_ROWS]
    return rows + [{"channel": "", "text": "", "sender": ""}] * (FALLBACK_ROWS - len(rows))


def fallback_words(step: dict[str, Any]) -> str:
    """`SMS, then RCS` for a send step's chain ('' without one)."""
    names = [s.get("channel") if isinstance(s, dict) else s for s in step.get("fallback") or []]
    return ", then ".join(_label(str(n)) for n in names if n)


def step_summary(step: dict[str, Any]) -> str:
    """One line saying what a step does, for its card."""
    kind = step.get("type")
    if kind == "send":
        channel = _label(step.get("channel", "sms"))
        if _templated(step.get("channel", "")):
            line = f"{channel} {step.get('template', '')} ({step.get('language', '')})"
        else:
            line = f"{channel}: {step.get('text', '')}"
        chain = fallback_words(step)
        return f"{line} (not delivered: {chain})" if chain else line
    if kind == "wait":
        if "until" in step:
            return f"until {step['until']} in the contact's time"
        return f"for {duration_words(step.get('for'))}"
    if kind == "wait_for":
        event = step.get("event", "")
        what = {"reply": "a reply", "click": "a click", "delivered": "the delivery"}.get(
            event, f"the event {event}"
        )
        return f"{what}, at most {duration_words(step.get('timeout'))}"
    if kind == "branch":
        return rule_words(step.get("rule"))
    if kind == "split":
        return ", ".join(
            f"{b.get('name')} {b.get('weight')}"
            for b in step.get("branches") or []
            if isinstance(b, dict)
        )
    if kind == "update":
        parts = []
        if step.get("add_to_lists"):
            parts.append("add to " + ", ".join(step["add_to_lists"]))
        if step.get("remove_from_lists"):
            parts.append("remove from " + ", ".join(step["remove_from_lists"]))
        if step.get("set"):
            parts.append("set " + ", ".join(f"{k}={v}" for k, v in step["set"].items()))
        if step.get("consent"):
            parts.append(step["consent"].replace("_", " "))
        return "; ".join(parts)
    if kind == "notify":
        return "the journey.notify event"
    return "the contact leaves the journey"


def rule_words(rule: Any) -> str:
    """A branch rule in words (one level; JSON beyond it)."""
    if not isinstance(rule, dict) or not isinstance(rule.get("rules"), list):
        return "no rule yet"
    words = []
    for item in rule["rules"]:
        if not isinstance(item, dict):
            continue
        if "rules" in item:
            words.append("(" + rule_words(item) + ")")
            continue
        subject = item.get("field", "")
        if subject in ("event", "attribute"):
            subject = f"{subject} {item.get('key', '')}"
        value = item.get("value", "")
        value = ", ".join(map(str, value)) if isinstance(value, list) else value
        words.append(f"{subject} {item.get('op', 'eq')} {value}".strip())
    joiner = " or " if rule.get("match") == "any" else " and "
    return joiner.join(words) or "no rule yet"


def starter(kind: str, name: str) -> dict[str, Any]:
    """A new journey's first draft: an abandoned cart, a keyword welcome, or a blank one."""
    if kind == "cart":
        return {
            "name": name,
            "trigger": {"type": "event", "event": "cart_abandoned"},
            "reentry": "once_per_key",
            "goal": {"event": "order_placed"},
            "steps": [
                {"id": "wait1", "type": "wait", "for": "PT1H"},
                {
                    "id": "sms1",
                    "type": "send",
                    "channel": "sms",
                    "text": "Hi {{first_name}}, your {{event.item}} is waiting: https://example.com/cart",
                },
                {
                    "id": "wait2",
                    "type": "wait_for",
                    "event": "click",
                    "timeout": "P1D",
                    "then": "done",
                    "else": "sms2",
                },
                {
                    "id": "sms2",
                    "type": "send",
                    "channel": "sms",
                    "text": "Last call: 10% off with CART10",
                },
                {"id": "done", "type": "exit"},
            ],
        }
    if kind == "keyword":
        return {
            "name": name,
            "trigger": {"type": "keyword", "keyword": "JOIN", "number": ""},
            "steps": [
                {
                    "id": "welcome",
                    "type": "send",
                    "channel": "sms",
                    "text": "Welcome! Reply with your first name.",
                },
                {
                    "id": "answer",
                    "type": "wait_for",
                    "event": "reply",
                    "timeout": "P1D",
                    "then": "thanks",
                    "else": "done",
                },
                {"id": "thanks", "type": "send", "channel": "sms", "text": "Thanks, you are in."},
                {"id": "done", "type": "exit"},
            ],
        }
    hello = {"id": "send1", "type": "send", "channel": "sms", "text": "Hello!"}
    return {"name": name, "trigger": {"type": "event", "event": "signed_up"}, "steps": [hello]}


def local_time(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def test_script(draft: dict[str, Any], now: dt.datetime) -> str:
    """A first script for testing a draft: two test contacts setting its trigger off (and its
    goal, when it has one), as events lines (docs/JOURNEYS.md, "journey test")."""
    raw_trigger = draft.get("trigger")
    trigger: dict[str, Any] = raw_trigger if isinstance(raw_trigger, dict) else {}
    kind = trigger.get("type")
    people = [
        {"phone": f"+4479460001{n:02d}", "first_name": name, "timezone": "Europe/London"}
        for n, name in ((1, "Ana"), (2, "Bob"))
    ]
    properties = {name[len("event.") :]: "sample" for name in _event_names(draft)}
    lines: list[dict[str, Any]] = []
    for index, person in enumerate(people):
        line: dict[str, Any] = {"at": f"PT{index * 5}M", "contact": person}
        if kind == "keyword":
            line |= {
                "inbound": str(trigger.get("keyword") or "JOIN"),
                "to": str(trigger.get("number") or ""),
            }
        elif kind == "list_joined":
            line["join"] = str(trigger.get("list") or "")
        elif kind == "segment":
            line["update"] = True
        elif kind == "date_attribute":
            attribute = str(trigger.get("attribute") or "birthday")
            line["contact"] = {
                **person,
                "timezone": "UTC",
                "attributes": {attribute: f"1990-{now:%m-%d}"},
            }
            line["update"] = True
            line["at"] = f"{now:%Y-%m-%d}T{trigger.get('at') or '09:00'}:00+00:00"
        elif kind == "message":
            line["outcome"] = str(trigger.get("outcome") or "delivered")
        else:
            line |= {
                "name": str(trigger.get("event") or "signed_up"),
                "key": f"test-{index + 1}",
                "properties": properties,
            }
        lines.append(line)
    goal = draft.get("goal")
    if isinstance(goal, dict) and goal.get("event"):
        lines.append(
            {
                "at": "PT30M",
                "contact": {"phone": people[1]["phone"]},
                "name": str(goal["event"]),
                "key": "test-2",
            }
        )
    return "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)


def _event_names(draft: dict[str, Any]) -> set[str]:
    """The `{{event.<name>}}` placeholders the draft's texts use."""
    names: set[str] = set()
    for step in draft.get("steps") or []:
        if isinstance(step, dict) and isinstance(step.get("text"), str):
            names |= {n for n in placeholder_names(step["text"]) if n.startswith("event.")}
    return names
