"""A campaign's steps: its channel type and content, then its fallback chain.

The first step is the campaign's own channel; the fallback steps follow in order
(`Campaign.fallback`, `--fallback rcs,sms`, the API's `"fallback": ["rcs", "sms"]`), each a
registered type that may follow another (`ChannelType.fallback_step`). A recipient not
delivered on one step within its window gets the next (campaigns/failover.py). Steps are told
apart in the ledger by their medium (`Message.channel`), which is why a chain never holds two
types of the same medium. Everything that sends, renders, prices or expires a campaign's
messages asks here which type and content a row stands for, instead of comparing channel names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from campaigns.models import Campaign, FailoverMode
from channels.base import PROVIDER, Button, ChannelType, Content, Regional
from channels.registry import channel_type


@dataclass(frozen=True)
class Step:
    """One step of a campaign: a type, what it says, from which sender, for how long."""

    position: int  # 0 for the campaign's own channel
    kind: ChannelType
    content: Content
    sender: str  # '' → the campaign's sender (first step) or the type's default
    validity_minutes: int | None

    @property
    def medium(self) -> str:
        return self.kind.ledger


def fallback_steps(value: Any) -> list[dict[str, Any]]:
    """A fallback chain as stored: `["rcs", "sms"]` or `[{"channel": "rcs", "text": …}]` →
    `[{"channel", "text", "sender", "validity_minutes"}]` (ValueError when it is neither)."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise ValueError('the fallback is a list of channels, e.g. ["rcs", "sms"]')
    steps = []
    for item in value:
        raw: Mapping[str, Any] = {"channel": item} if isinstance(item, str) else item
        if not isinstance(raw, Mapping) or not isinstance(raw.get("channel"), str):
            raise ValueError('each fallback step is a channel name or {"channel": …, "text": …}')
        validity = raw.get("validity_minutes")
        if validity is not None and (isinstance(validity, bool) or not isinstance(validity, int)):
            raise ValueError("a fallback step's validity_minutes is a whole number")
        steps.append(
            {
                "channel": raw["channel"].strip(),
                "text": str(raw.get("text") or ""),
                "sender": str(raw.get("sender") or ""),
                "validity_minutes": validity,
            }
        )
    return steps


def campaign_kind(campaign: Campaign) -> ChannelType:
    """The campaign's channel type."""
    return channel_type(campaign.channel)


def campaign_buttons(campaign: Campaign) -> tuple[Button, ...]:
    """The campaign's buttons (entries that are not objects are left out; validation says so)."""
    raw = campaign.buttons if isinstance(campaign.buttons, list) else []
    return tuple(Button.from_dict(b) for b in raw if isinstance(b, dict))


def primary_content(campaign: Campaign) -> Content:
    """What the campaign's own channel says (text or template, image, buttons)."""
    return Content(
        text=campaign.text,
        template=campaign.template,
        mapping=campaign.template_mapping or {},
        media_url=campaign.media_url or "",
        buttons=campaign_buttons(campaign),
        regional=campaign_regional(campaign),
    )


def campaign_regional(campaign: Campaign) -> Regional:
    """What the campaign says for countries' rules (its SMS text's DLT template, IYS, title)."""
    return Regional(
        dlt_template_id=campaign.dlt_template_id,
        iys_recipient_type=campaign.iys_recipient_type,
        kr_title=campaign.kr_title,
        promotional=campaign.promotional,
    )


def primary_validity(campaign: Campaign, kind: ChannelType | None = None) -> int | None:
    """The campaign's validity for its own channel (sent to Infobip, or enforced by Herald)."""
    kind = kind or campaign_kind(campaign)
    if kind.validity == PROVIDER:
        return campaign.sms_validity_minutes
    return campaign.whatsapp_validity_minutes


def campaign_steps(campaign: Campaign) -> list[Step]:
    """The campaign's channel, then its fallback steps in order."""
    kind = campaign_kind(campaign)
    steps = [
        Step(0, kind, primary_content(campaign), campaign.sender, primary_validity(campaign, kind))
    ]
    raw_steps = campaign.fallback if isinstance(campaign.fallback, list) else []
    for position, raw in enumerate(raw_steps, start=1):
        if not isinstance(raw, dict):
            continue  # validation says so; nothing stored this way is sent
        step_kind = channel_type(str(raw.get("channel") or ""))
        # A step without its own text says what the campaign says (when that is a text).
        text = str(raw.get("text") or "") or ("" if kind.uses_template else campaign.text)
        steps.append(
            Step(
                position,
                step_kind,
                Content(text=text, regional=campaign_regional(campaign)),
                str(raw.get("sender") or ""),
                raw.get("validity_minutes"),
            )
        )
    return steps


def step_for_medium(campaign: Campaign, medium: str) -> Step:
    """The step whose messages travel on `medium` (a chain never repeats a medium)."""
    steps = campaign_steps(campaign)
    for step in steps:
        if step.medium == medium:
            return step
    # A row of a medium the campaign has no step for (a resend of an older chain): its own type.
    return steps[0]


def next_step(campaign: Campaign, medium: str) -> Step | None:
    """The step after the one on `medium`, when Herald (not Infobip) runs the chain."""
    if campaign.failover_mode != FailoverMode.HERALD:
        return None
    steps = campaign_steps(campaign)
    for index, step in enumerate(steps[:-1]):
        if step.medium == medium:
            return steps[index + 1]
    return None


def chain_waits_on(campaign: Campaign) -> list[str]:
    """The mediums whose accepted messages may still need the next step (all but the last)."""
    if campaign.failover_mode != FailoverMode.HERALD:
        return []
    return [step.medium for step in campaign_steps(campaign)[:-1]]


def step_sender(campaign: Campaign, step: Step) -> str:
    """Who a step's messages come from: its own sender, the campaign's, the type's default."""
    if step.sender:
        return step.sender
    if (
        step.position > 0
        and campaign.sender
        and step.kind.sender_kind == campaign_kind(campaign).sender_kind
    ):
        return campaign.sender
    return step.kind.default_sender()


def fallback_window(campaign: Campaign) -> dt.timedelta:
    """How long a step waits for a final report before the next step goes."""
    if campaign.failover_after:
        return campaign.failover_after
    return dt.timedelta(seconds=settings.HERALD_FAILOVER_AFTER)


def chain_names(steps: Iterable[Step]) -> list[str]:
    """The types of the fallback steps, in order (what `"fallback"` lists)."""
    return [step.kind.name for step in steps if step.position > 0]
