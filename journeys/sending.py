"""The `send` step: the rules that hold on every send, then rows in the campaign ledger.

For a batch of entries due at one send step, in this order, each decided for the whole batch
with one query per rule (never one per contact):
1. an opted-out contact leaves the journey (`opted_out`) instead of being sent anything;
2. a frequency cap (HERALD_FREQUENCY_CAPS, the ledger's counts) delays the send until the cap
   frees (`"caps": "delay"`, the default), or skips it (`skip`), or is ignored (`exempt`);
3. quiet hours (the step's or the journey's window, else the country default) delay it until
   the window opens — never dropped: the entry waits at the step, counted as delayed;
4. consent on the channel (an opt-in when its type needs one) and the type's session window
   (WhatsApp's 24 hours for free text) skip it with the reason, like a campaign's freeze does;
5. the rest are rendered (contact values and `{{event.<property>}}`) and appended to the send
   step's campaign ledger (campaigns/open_ledger.py) in the batch's transaction; the campaign's
   batch chains claim and send them after the commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from campaigns.caps import caps_free_at
from campaigns.consent_rules import no_opt_in_reason, without_channel_consent
from campaigns.models import Campaign
from campaigns.open_ledger import NewMessage, messages_append
from campaigns.quiet import QuietHours
from campaigns.rendering import compile_template, contact_values
from channels.registry import channel_type
from journeys.arrival import hold, leave, move_on
from journeys.batch import Batch
from journeys.models import ExitReason
from journeys.plan import Due
from journeys.spec import Definition, Step, quiet_hours_parse
from whatsapp.mapping import contact_values as template_contact_values
from whatsapp.mapping import mapping_resolve, slot_from_text
from whatsapp.services import template_render

EVENT_PREFIX = "event."


def ledger_channel(channel: str) -> str:
    """The campaign ledger's channel (the type's medium) of a send step's channel."""
    return channel_type(channel).ledger


def event_values(properties: Any) -> dict[str, str]:
    """`{{event.<name>}}` values from an entry's event properties (scalars only)."""
    values: dict[str, str] = {}
    if isinstance(properties, dict):
        for name, raw in properties.items():
            if raw is None or isinstance(raw, dict | list):
                continue
            text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw).strip()
            if text:
                values[f"{EVENT_PREFIX}{name}"] = text
    return values


def template_mapping(placeholders: dict[str, Any]) -> dict[str, Any]:
    """A WhatsApp template mapping from a send step's placeholders (texts with {{names}})."""
    mapping: dict[str, Any] = {
        "body": [slot_from_text(str(v)) for v in placeholders.get("body") or []]
    }
    if placeholders.get("header") is not None:
        mapping["header"] = [slot_from_text(str(placeholders["header"]))]
    mapping["buttons"] = [
        {"index": b.get("index"), "slots": [slot_from_text(str(b.get("parameter", "")))]}
        for b in placeholders.get("buttons") or []
        if isinstance(b, dict)
    ]
    return mapping


def _render(
    campaign: Campaign, step: Step, contact: Any, due: Due, now: dt.datetime
) -> tuple[str, dict[str, Any] | None, int, str, str]:
    """(text, template values, parts, encoding, skip reason) of one recipient's message."""
    events = event_values(due.properties)
    kind = channel_type(step.raw["channel"])
    if kind.uses_template:
        if campaign.template is None:  # activation refuses this; a deleted template stops here
            return "", None, 0, "", f"the {kind.label} is gone"
        values = template_contact_values(contact)
        values["attributes"] = {**values["attributes"], **events}
        resolved = mapping_resolve(
            template=campaign.template, mapping=campaign.template_mapping, contact=values
        )
        if resolved.values is None:
            return "", None, 0, "", "; ".join(resolved.missing)[:500]
        text = template_render(template=campaign.template, values=resolved.values)
        return text, resolved.values.to_dict(), 1, "", ""
    template = compile_template(step.raw["text"])
    values = contact_values(contact, [n for n in template.names if not n.startswith(EVENT_PREFIX)])
    rendered = template.render({**values, **events})
    if rendered.missing:
        return rendered.text, None, 0, "", rendered.skip_reason or ""
    if problem := kind.cap_check(rendered.text):
        return rendered.text, None, 0, "", problem
    if kind.session_field and (why := kind.session_skip(getattr(contact, kind.session_field), now)):
        return rendered.text, None, 0, "", why
    parts, encoding = kind.measure(rendered.text)
    return rendered.text, None, parts, encoding, ""


def send_step(batch: Batch, step: Step, definition: Definition, dues: list[Due]) -> None:
    """Decide and write a batch of entries due at one send step (see the module docstring)."""
    plan, now = batch.plan, batch.now
    version_id = dues[0].version_id
    campaign = batch.campaign(version_id, step.id)
    contacts = batch.contacts()
    channel = ledger_channel(step.raw["channel"])
    policy = step.raw.get("caps") or definition.caps
    window = quiet_hours_parse(step.raw.get("quiet_hours") or "") or definition.quiet_hours
    quiet = QuietHours(
        start=window[0] if window else None, end=window[1] if window else None, now=now
    )
    ids = [due.contact_id for due in dues]
    capped = caps_free_at(channel=channel, contact_ids=ids, now=now) if policy != "exempt" else {}
    no_consent = without_channel_consent(campaign=campaign, contact_ids=ids)
    rows: list[NewMessage] = []
    sending: list[tuple[Due, str]] = []  # (entry, skip reason or "")
    for due in dues:
        contact = contacts[due.contact_id]
        taken = due.steps_taken + 1
        if contact.opted_out:
            plan.record(due, "exited", "opted out: left before this send")
            leave(plan, due, ExitReason.OPTED_OUT, taken=taken)
            continue
        if due.contact_id in capped and policy == "delay":
            until, why = capped[due.contact_id]
            plan.record(due, "held", f"{why}; waits until {until:%Y-%m-%d %H:%M} UTC")
            plan.count(version_id, step.id, "delayed")
            hold(plan, due, until, taken=taken)
            continue
        reason = capped[due.contact_id][1] if due.contact_id in capped else ""
        if not reason:
            opens, why = quiet.wait(
                phone=contact.phone, country=contact.country, timezone=contact.timezone
            )
            if opens is not None and opens > now:
                plan.record(due, "held", f"quiet hours: waits until {opens:%Y-%m-%d %H:%M} UTC")
                plan.count(version_id, step.id, "delayed")
                hold(plan, due, opens, taken=taken)
                continue
            reason = why
        if not reason and due.contact_id in no_consent:
            reason = no_opt_in_reason(channel_type(step.raw["channel"]))
        text, values, parts, encoding = "", None, 0, ""
        if not reason:
            text, values, parts, encoding, reason = _render(campaign, step, contact, due, now)
        rows.append(
            NewMessage(
                contact_id=due.contact_id,
                phone=contact.phone,
                attempt=due.seq,
                text=text,
                template_values=values,
                parts=parts if not reason else 0,
                encoding=encoding if not reason else "",
                state="skipped" if reason else "queued",
                reason=reason,
                callback_suffix=f";entry={due.id}",
            )
        )
        sending.append((due, reason))
    if not rows:
        return
    appended = messages_append(campaign_id=campaign.pk, channel=channel, rows=rows, now=now)
    by_contact = {(a.contact_id, a.attempt): a.pk for a in appended}
    if any(not reason for _, reason in sending):
        plan.campaigns.add(campaign.pk)
    for due, reason in sending:
        pk = by_contact[(due.contact_id, due.seq)]
        if reason:
            plan.record(due, "skipped", reason, message=pk)
        else:
            plan.record(due, "sent", f"{step.raw['channel']} message", message=pk)
            plan.count(version_id, step.id, "sent")
        move_on(batch, due, step.next, taken=due.steps_taken + 1, last_message=pk)
