"""Campaign services: create, validate, approve, launch, pause, resume, cancel, test send.

The lifecycle services take an `actor` (core.rules): they check the actor's permission and,
with HERALD_REQUIRE_APPROVAL, the approval, and write the audit trail, so the UI, the admin,
the commands and the API all obey the same rule. A refusal raises core.rules.Refused.
"""

import contextlib
import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from campaigns import signals
from campaigns.approval import campaign_content, campaign_fingerprint
from campaigns.audience import audience_problem
from campaigns.compliance import Router, campaign_compliance, recipient_values
from campaigns.ledger import live_batch_ids, messages_in_flight
from campaigns.models import (
    LEGACY_FAILOVER_CHANNEL,
    SMS_VALIDITY_MAX_MINUTES,
    ApprovalRequest,
    AudienceMatch,
    Campaign,
    CampaignApproval,
    FailoverMode,
    Message,
    MessageEvent,
    Segment,
    Snippet,
    SplitTest,
)
from campaigns.opt_out_law import opt_out_launch_problem
from campaigns.people import campaign_people
from campaigns.permissions import APPROVE, SEND
from campaigns.preview import budget_launch_problem
from campaigns.quiet import window_check
from campaigns.rendering import compile_template, contact_values, placeholder_syntax_problem
from campaigns.split import SplitSpec, VariantSpec, split_configure, split_spec_problems
from campaigns.states import CampaignState, campaign_can_move
from campaigns.status_map import state_for_status
from campaigns.steps import (
    Step,
    campaign_steps,
    chain_names,
    chain_waits_on,
    fallback_steps,
)
from channels.base import PROVIDER, ChannelType, Outbound
from channels.countries import country_of, country_valid
from channels.regional import DLT_ID, IYS_RECIPIENT_TYPES, KR_TITLE_MAX
from channels.registry import UnknownChannel, channel_type
from channels.senders import sender_is_auto
from contacts.models import Contact, ContactList
from core.queueing import enqueue_on_commit
from core.rules import OPERATOR, Actor, Refused, actor_label, actor_require, actor_user
from core.services import audit_record
from infobip.client import get_client
from infobip.links import callback_data, webhook_url
from infobip.types import SendResult
from whatsapp.models import WhatsAppTemplate

# Beyond any sender's real throughput, and far inside the column's range: larger is a typo.
SPEED_LIMIT_MAX = 100_000
# A WhatsApp validity longer than this (30 days) is a typo, not an intent.
WHATSAPP_VALIDITY_MAX_MINUTES = 43_200
# The campaign's channel and at most three fallback steps.
MAX_STEPS = 4


class CampaignError(Exception):
    """A campaign operation that cannot be done, with a message for the person who asked."""


def campaign_validate(*, campaign: Campaign) -> list[str]:
    """Everything that stops this campaign from being sent, as readable sentences."""
    errors: list[str] = []
    try:
        fallback_steps(campaign.fallback)
        steps = campaign_steps(campaign)
    except (UnknownChannel, ValueError) as exc:
        return [str(exc)]
    kind = steps[0].kind
    buttons = campaign.buttons
    if not isinstance(buttons, list) or not all(isinstance(b, dict) for b in buttons):
        errors.append('buttons must be a list of {"text", "url"} objects')
    errors += kind.content_problems(steps[0].content)
    errors += [p for step in steps if (p := _placeholder_problem(step))]
    if campaign.failover_mode != FailoverMode.NONE:
        errors += _fallback_problems(campaign, steps)
    elif len(steps) > 1:
        errors.append(
            "a failover text, sender or validity (or a fallback step) needs SMS failover: "
            "choose a fallback mode"
        )
    if campaign.speed_limit == 0:
        errors.append("the speed limit must be at least 1 message")
    elif campaign.speed_limit is not None and not 0 < campaign.speed_limit <= SPEED_LIMIT_MAX:
        errors.append(f"the speed limit must be 1 to {SPEED_LIMIT_MAX:,} messages")
    if problem := window_check(start=campaign.quiet_hours_start, end=campaign.quiet_hours_end):
        errors.append(problem)
    if campaign.max_spend is not None and campaign.max_spend <= 0:
        errors.append("the budget cap must be more than 0")
    for step in steps:
        if unsendable := sender_problem(step.sender, kind=step.kind):
            label = "sender" if step.position == 0 else f"{step.kind.label} fallback sender"
            errors.append(f"the {label} {unsendable}")
    errors += _validity_problems(campaign, kind)
    if campaign.pk is not None:
        from campaigns.split import split_problems

        errors += split_problems(campaign=campaign)
    errors += _regional_problems(campaign)
    return errors


def _regional_problems(campaign: Campaign) -> list[str]:
    """The campaign's regional settings are well formed (what they must be is compliance's)."""
    errors = []
    if campaign.dlt_template_id and not DLT_ID.fullmatch(campaign.dlt_template_id):
        errors.append("the DLT content template id is up to 64 letters, digits or -")
    if campaign.iys_recipient_type not in ("", *IYS_RECIPIENT_TYPES):
        errors.append(f"the IYS recipient type is one of {', '.join(IYS_RECIPIENT_TYPES)}")
    if len(campaign.kr_title) > KR_TITLE_MAX or any(ord(c) < 32 for c in campaign.kr_title):
        errors.append(f"the South Korean title is one line of at most {KR_TITLE_MAX} characters")
    countries = campaign.exclude_countries
    if not isinstance(countries, list) or not all(
        isinstance(c, str) and country_valid(c) for c in countries
    ):
        errors.append("excluded countries are ISO codes such as IN or US")
    return errors


def _placeholder_problem(step: Step) -> str | None:
    """Double braces in a step's text that are not a placeholder (issue 26 #9)."""
    if step.kind.uses_template or not (problem := placeholder_syntax_problem(step.content.text)):
        return None
    return problem if step.position == 0 else f"{step.kind.label} failover text: {problem}"


_ALPHANUMERIC_SENDER = re.compile(r"[A-Za-z0-9 .&'_!-]{1,11}")


def sender_problem(sender: str, *, kind: ChannelType) -> str | None:
    """Why a sender cannot be used on a channel type (None when it can, or is blank: the
    default sender).

    An SMS sender (`sender_kind` "sms") is a number (up to 15 digits, `+` allowed) or a name of
    at most 11 letters, digits and simple punctuation with a letter in it (GSM 03.40's
    alphanumeric originator); a WhatsApp sender is the registered number. Viber service ids and
    RCS agent ids are the provider's to check.
    """
    if not sender:
        return None
    digits = sender.removeprefix("+")
    if kind.sender_kind not in ("sms", "whatsapp"):
        return None
    if digits.isdigit():
        return None if 3 <= len(digits) <= 15 else "number must have 3 to 15 digits"
    if kind.sender_kind == "whatsapp":
        return f"“{sender[:40]}” is not a WhatsApp number (digits, e.g. 447860099299)"
    if not _ALPHANUMERIC_SENDER.fullmatch(sender) or not any(c.isalpha() for c in sender):
        return (
            f"“{sender[:40]}” is not a sender name: at most 11 letters, digits, spaces or "
            ". & ' _ ! -, with a letter, or a number"
        )
    return None


def fallback_chain_problems(*, campaign: Campaign) -> list[str]:
    """The problems of a campaign's fallback chain alone (a journey's send step checks its own)."""
    try:
        fallback_steps(campaign.fallback)
        steps = campaign_steps(campaign)
    except (UnknownChannel, ValueError) as exc:
        return [str(exc)]
    errors = _fallback_problems(campaign, steps)
    errors += [p for step in steps[1:] if (p := _placeholder_problem(step))]
    for step in steps[1:]:
        if problem := sender_problem(step.sender, kind=step.kind):
            errors.append(f"the {step.kind.label} fallback sender {problem}")
        most = (
            SMS_VALIDITY_MAX_MINUTES
            if step.kind.validity == PROVIDER
            else WHATSAPP_VALIDITY_MAX_MINUTES
        )
        if step.validity_minutes is not None and not 1 <= step.validity_minutes <= most:
            errors.append(f"the {step.kind.label} fallback validity is 1 to {most:,} minutes")
    return errors


def _fallback_problems(campaign: Campaign, steps: list[Step]) -> list[str]:
    """The fallback chain: each step may follow, says something, and the mode fits."""
    errors: list[str] = []
    first = steps[0].kind
    if len(steps) < 2:
        return ["a fallback mode needs at least one fallback step"]
    if len(steps) > MAX_STEPS:
        errors.append(f"a fallback chain has at most {MAX_STEPS - 1} steps")
    seen = {first.ledger}
    for step in steps[1:]:
        label = step.kind.label
        if not step.kind.fallback_step:
            errors.append(f"{label} cannot be a fallback step")
        elif step.kind.ledger == first.ledger:
            errors.append(
                f"a {first.label} campaign cannot fall back to {label}: {label} failover only "
                "applies to campaigns on other channels"
            )
        elif step.kind.ledger in seen:
            errors.append(f"{label} is already a step of this campaign: each medium once")
        elif not step.content.text.strip():
            errors.append(f"{label} failover needs a failover text")
        elif problem := next(iter(step.kind.content_problems(step.content)), None):
            errors.append(f"failover {problem}")
        seen.add(step.kind.ledger)
    if campaign.failover_mode == FailoverMode.INFOBIP and (
        len(steps) != 2 or steps[1].kind.name not in first.native_fallback
    ):
        errors.append(
            f"Infobip's native failover exists only for {first.label} → "
            f"{', '.join(first.native_fallback) or 'nothing'}"
            if first.native_fallback
            else "Infobip's native SMS failover exists only for template messages"
        )
    return errors


def _validity_problems(campaign: Campaign, kind: ChannelType) -> list[str]:
    """Validity periods: positive, Infobip's within its 48 h, each on a type that has it."""
    errors = []
    provider = [("SMS", campaign.sms_validity_minutes)]
    provider += [
        (f"failover {step.kind.label}", step.validity_minutes)
        for step in campaign_steps(campaign)[1:]
        if step.kind.validity == PROVIDER
    ]
    for label, minutes in provider:
        if minutes is not None and not 1 <= minutes <= SMS_VALIDITY_MAX_MINUTES:
            errors.append(
                f"the {label} validity is {minutes} minutes; it must be 1 to "
                f"{SMS_VALIDITY_MAX_MINUTES:,} (Infobip's 48-hour maximum)"
            )
    minutes = campaign.whatsapp_validity_minutes
    if minutes is not None and not 1 <= minutes <= WHATSAPP_VALIDITY_MAX_MINUTES:
        errors.append(
            f"the WhatsApp validity must be 1 to {WHATSAPP_VALIDITY_MAX_MINUTES:,} minutes"
        )
    # Each validity column belongs to the types whose validity is kept that way.
    if kind.validity != PROVIDER and campaign.sms_validity_minutes is not None:
        errors.append(
            f"an SMS validity applies to channels Infobip keeps a validity for, not "
            f"{kind.label}; use the failover validity"
        )
    if kind.validity == PROVIDER and campaign.whatsapp_validity_minutes is not None:
        errors.append(f"a WhatsApp validity applies to WhatsApp campaigns, not {kind.label}")
    return errors


@transaction.atomic
def campaign_create(
    *,
    name: str,
    channel: str,
    lists: Iterable[ContactList] = (),
    exclude_lists: Iterable[ContactList] = (),
    sender: str = "",
    text: str = "",
    template: WhatsAppTemplate | None = None,
    template_mapping: dict[str, Any] | None = None,
    media_url: str = "",
    buttons: list[dict[str, Any]] | None = None,
    fallback: Any = None,
    failover_mode: str = FailoverMode.NONE,
    failover_text: str = "",
    failover_sender: str = "",
    send_at: dt.datetime | None = None,
    speed_limit: int | None = None,
    speed_unit: str = "minute",
    quiet_hours: tuple[dt.time, dt.time] | None = None,
    created_by: AbstractBaseUser | None = None,
    track_links: bool = False,
    sms_validity_minutes: int | None = None,
    whatsapp_validity_minutes: int | None = None,
    failover_validity_minutes: int | None = None,
    actor: Actor | None = None,
    max_spend: Decimal | None = None,
    segment: Segment | None = None,
    exclude_segment: Segment | None = None,
    audience_match: str = AudienceMatch.ANY,
    variants: Sequence[VariantSpec] = (),
    test: SplitSpec | None = None,
    frequency_cap_override: bool = False,
    opt_out_footer: bool = True,
    dlt_template_id: str = "",
    iys_recipient_type: str = "",
    kr_title: str = "",
    exclude_countries: Iterable[str] = (),
) -> Campaign:
    """Create a draft campaign; refuses (ValidationError) anything that could not be sent.

    With an `actor` (the command line, the API) the add permission is checked, the actor
    becomes the creator and the creation is audited; callers that audit themselves pass
    `created_by` instead. `variants` and `test` make it a split test (campaigns/split.py):
    the first variant's text or template is then the campaign's own. Lifting the frequency
    caps needs the send permission (of the actor, else of `created_by`), and is audited.
    """
    lifter: Actor | None = None  # who lifts the frequency caps, when they are lifted
    if frequency_cap_override:
        lifter = actor if actor is not None else created_by
        actor_require(lifter, SEND, doing="lift frequency caps")
    if actor is not None:
        actor_require(actor, "campaigns.add_campaign", doing="create campaigns")
        created_by = actor_user(actor)
    lists = list(lists)
    if not name.strip():
        raise ValidationError("the campaign needs a name")
    try:
        channel_type(channel)
    except UnknownChannel as exc:
        raise ValidationError(str(exc)) from None
    if problem := audience_problem(lists=lists, segment=segment, match=audience_match):
        raise ValidationError(problem)
    try:
        chain = fallback_steps(fallback)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    if chain and failover_mode == FailoverMode.NONE:
        failover_mode = FailoverMode.HERALD  # a chain given is a chain Herald runs
    if problems := split_spec_problems(channel=channel, variants=variants, test=test):
        raise ValidationError(problems)
    if variants:
        text = variants[0].text
        template, template_mapping = variants[0].template, variants[0].template_mapping
    campaign = Campaign(
        name=name.strip(),
        channel=channel,
        # `auto` (or blank): each recipient's country's sender (channels/senders.py).
        sender="" if sender_is_auto(sender) else sender.strip(),
        text=text,
        template=template,
        template_mapping=template_mapping or {},
        media_url=media_url,
        buttons=list(buttons or []),
        fallback=chain,
        failover_mode=failover_mode,
        send_at=send_at,
        speed_limit=speed_limit,
        speed_unit=speed_unit,
        quiet_hours_start=quiet_hours[0] if quiet_hours else None,
        quiet_hours_end=quiet_hours[1] if quiet_hours else None,
        created_by=actor_user(created_by),
        track_links=track_links,
        sms_validity_minutes=sms_validity_minutes,
        whatsapp_validity_minutes=whatsapp_validity_minutes,
        max_spend=max_spend,
        segment=segment,
        exclude_segment=exclude_segment,
        audience_match=audience_match,
        frequency_cap_override=frequency_cap_override,
        opt_out_footer=opt_out_footer,
        dlt_template_id=dlt_template_id.strip(),
        iys_recipient_type=iys_recipient_type.strip().upper(),
        kr_title=kr_title.strip(),
        exclude_countries=sorted({c.strip().upper() for c in exclude_countries if c.strip()}),
    )
    # The SMS failover's old names are the chain's SMS step (`--sms-failover-text` is
    # `--fallback sms`): a legacy failover mode with no chain given means that one step.
    if failover_mode != FailoverMode.NONE and not chain:
        campaign.fallback = [
            {"channel": LEGACY_FAILOVER_CHANNEL, "text": "", "sender": "", "validity_minutes": None}
        ]
    # Given, they fill the SMS step (a chain's own text for it wins when they are not).
    if failover_text:
        campaign.failover_text = failover_text
    if failover_sender:
        campaign.failover_sender = failover_sender
    if failover_validity_minutes is not None:
        campaign.failover_validity_minutes = failover_validity_minutes
    errors = campaign_validate(campaign=campaign)
    if errors:
        raise ValidationError(errors)
    campaign.save()
    campaign.lists.set(lists)
    campaign.exclude_lists.set(list(exclude_lists))
    if variants or test is not None:
        split_configure(campaign=campaign, variants=variants, test=test)
    if actor is not None:
        audit_record(actor=actor, action="create", campaign=campaign)
    if lifter is not None:  # actor_require refused a missing one
        frequency_cap_override_audit(campaign=campaign, actor=lifter, override=True)
    return campaign


def _move(campaign: Campaign, new: str, *, reason: str = "", **fields: Any) -> Campaign:
    """Change a campaign's state if the lifecycle allows it (conditional UPDATE)."""
    current = Campaign.objects.values_list("state", flat=True).get(pk=campaign.pk)
    if not campaign_can_move(current, new):
        raise CampaignError(f"campaign {campaign.pk} is {current}; it cannot become {new}")
    updated = Campaign.objects.filter(pk=campaign.pk, state=current).update(
        state=new, state_reason=reason[:500], **fields
    )
    if not updated:
        raise CampaignError(f"campaign {campaign.pk} changed state meanwhile; try again")
    signals.campaign_state_changed.send(
        Campaign, campaign_id=campaign.pk, from_state=current, to_state=new, reason=reason
    )
    campaign.refresh_from_db()
    return campaign


def approval_required() -> bool:
    """Whether launches need a second person's approval (HERALD_REQUIRE_APPROVAL)."""
    return bool(getattr(settings, "HERALD_REQUIRE_APPROVAL", False))


def campaign_approval_problem(*, campaign: Campaign) -> str | None:
    """Why the campaign may not launch for lack of a valid approval (None when it may)."""
    if not approval_required():
        return None
    approval = CampaignApproval.objects.filter(campaign=campaign).first()
    if approval is None or approval.approved_by_id is None:
        return "this campaign needs a second person's approval before it can launch"
    if campaign.created_by_id is not None and approval.approved_by_id == campaign.created_by_id:
        return "the approval is by the campaign's creator: a different person must approve it"
    if approval.fingerprint != campaign_fingerprint(campaign=campaign):
        return "the campaign changed after it was approved: it needs a new approval"
    return None


def campaign_approve(*, campaign: Campaign, actor: Actor) -> CampaignApproval:
    """Approve exactly this version of a campaign; not by its creator, only by a named user."""
    actor_require(actor, APPROVE, doing="approve campaigns")
    user = actor_user(actor)
    if user is None:
        raise Refused("an approval needs a named user (--as USERNAME)", missing="approval")
    if campaign.created_by_id is not None and campaign.created_by_id == user.pk:
        raise Refused(
            "you created this campaign: a different person must approve it", missing="approval"
        )
    if campaign.state not in (CampaignState.DRAFT, CampaignState.SCHEDULED):
        raise CampaignError(f"campaign {campaign.pk} is {campaign.state}: nothing to approve")
    content = campaign_content(campaign=campaign)
    with transaction.atomic():
        approval, _ = CampaignApproval.objects.update_or_create(
            campaign=campaign,
            defaults={
                "approved_by": user,
                "fingerprint": campaign_fingerprint(campaign=campaign),
                "content": content,
            },
        )
        audit_record(actor=actor, action="approve", campaign=campaign, content=content)
        ApprovalRequest.objects.filter(campaign=campaign, closed_at__isnull=True).update(
            closed_at=timezone.now()
        )
    return approval


SNIPPET_TEXT_MAX = 1600  # an SMS's own cap: a snippet longer than a message is no snippet


def snippet_save(*, name: str, text: str, actor: Actor, snippet: Snippet | None = None) -> Snippet:
    """Create a snippet, or change `snippet`; names are unique, text up to 1,600 characters."""
    actor_require(actor, "campaigns.add_campaign", doing="save snippets")
    name, text = name.strip(), text.strip()
    problems: dict[str, list[str]] = {}
    namesakes = Snippet.objects.filter(name__iexact=name)
    if snippet is not None:
        namesakes = namesakes.exclude(pk=snippet.pk)
    if not name or len(name) > 100:
        problems["name"] = ["give the snippet a name of 1 to 100 characters"]
    elif namesakes.exists():
        problems["name"] = [f"a snippet named “{name}” exists already"]
    if not text:
        problems["text"] = ["the snippet has no text"]
    elif len(text) > SNIPPET_TEXT_MAX:
        problems["text"] = [f"{len(text):,} characters: a snippet holds up to {SNIPPET_TEXT_MAX:,}"]
    if problems:
        raise ValidationError(problems)
    snippet = snippet or Snippet(created_by=actor_user(actor))
    snippet.name, snippet.text = name, text
    snippet.save()
    audit_record(actor=actor, action="snippet_save", detail=name)
    return snippet


def snippet_delete(*, snippet: Snippet, actor: Actor) -> str:
    """Delete a snippet (messages that used it keep their text); returns its name."""
    actor_require(actor, "campaigns.add_campaign", doing="delete snippets")
    name = snippet.name
    snippet.delete()
    audit_record(actor=actor, action="snippet_delete", detail=name)
    return name


def campaign_approval_request(
    *, campaign: Campaign, actor: Actor, note: str = ""
) -> ApprovalRequest:
    """Ask the approvers to check a draft: in their queue and menu, and as the outbound event
    `campaign.approval_requested`; asking again while a request is open returns that one."""
    actor_require(actor, "campaigns.change_campaign", doing="request approvals")
    campaign.refresh_from_db()
    if campaign.state not in (CampaignState.DRAFT, CampaignState.SCHEDULED):
        raise CampaignError(f"campaign {campaign.pk} is {campaign.state}: nothing to approve")
    if CampaignApproval.objects.filter(campaign=campaign).exists() and not (
        campaign_approval_problem(campaign=campaign)
    ):
        raise CampaignError("this campaign is already approved as it is")
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        request = ApprovalRequest.objects.filter(campaign=campaign, closed_at__isnull=True).first()
        if request is not None:
            return request
        request = ApprovalRequest.objects.create(
            campaign=campaign, requested_by=actor_user(actor), note=note.strip()[:500]
        )
        audit_record(actor=actor, action="approval_request", campaign=campaign, detail=note[:500])
        signals.campaign_approval_requested.send(
            sender=ApprovalRequest, campaign_id=campaign.pk, requested_by=actor_label(actor)
        )
    return request


def compliance_launch_problem(*, campaign: Campaign) -> str:
    """Why countries' rules stop the launch ('' when every destination country is met): their
    regional rules, and the opt-out wording some countries' law asks of marketing SMS."""
    if problem := opt_out_launch_problem(campaign=campaign):
        return problem
    compliance = campaign_compliance(campaign=campaign)
    if not compliance.countries:
        return ""
    return (
        f"{compliance.refused:,} recipients would be refused: {compliance.summary()} — fix "
        "the campaign or its senders, or exclude these countries"
    )[:2000]


def campaign_launch(
    *, campaign: Campaign, actor: Actor, now: dt.datetime | None = None
) -> Campaign:
    """Launch now, or schedule for `send_at`; freezing and sending happen in the worker."""
    from campaigns.tasks import campaign_start

    actor_require(actor, SEND, doing="launch campaigns")
    campaign.refresh_from_db()
    if campaign.archived_at is not None:
        # It would send out of sight (archived campaigns are hidden from the list).
        raise CampaignError(f"“{campaign.name}” is archived: unarchive it before launching")
    if problem := campaign_approval_problem(campaign=campaign):
        raise Refused(problem, missing="approval")
    now = now or timezone.now()
    errors = campaign_validate(campaign=campaign)
    if not errors:
        first = campaign_steps(campaign)[0]
        if reason := first.kind.sendable_problem(first.content):
            errors.append(reason)
    if not errors and (problem := budget_launch_problem(campaign=campaign)):
        errors.append(problem)
    if not errors and (problem := compliance_launch_problem(campaign=campaign)):
        errors.append(problem)
    if errors:
        raise CampaignError("; ".join(errors))
    content = campaign_content(campaign=campaign)
    with transaction.atomic():
        if (send_at := campaign.send_at) and send_at > now:
            campaign = _move(campaign, CampaignState.SCHEDULED)
            detail = f"scheduled for {send_at.isoformat()}"
        else:
            campaign = _move(campaign, CampaignState.RUNNING, launched_at=now)
            # A lost wake-up (broker down) is picked up by the sweep (campaign_restart_unfrozen).
            enqueue_on_commit(
                lambda: campaign_start.delay(campaign.pk), what=f"campaign {campaign.pk} start"
            )
            detail = "launched"
        audit_record(
            actor=actor, action="launch", campaign=campaign, detail=detail, content=content
        )
    return campaign


def campaign_start_due(*, now: dt.datetime | None = None) -> list[int]:
    """Start scheduled campaigns whose time has come (beat calls this)."""
    from campaigns.tasks import campaign_start

    now = now or timezone.now()
    started = []
    for campaign in Campaign.objects.filter(state=CampaignState.SCHEDULED, send_at__lte=now):
        problem = campaign_approval_problem(campaign=campaign) or compliance_launch_problem(
            campaign=campaign
        )
        if problem:
            # Edited after it was approved and scheduled, or a sender it counted on was
            # removed: back to draft with the reason, not sent.
            with contextlib.suppress(CampaignError):
                _move(campaign, CampaignState.DRAFT, reason=problem)
            continue
        try:
            with transaction.atomic():
                _move(campaign, CampaignState.RUNNING, launched_at=now)
                enqueue_on_commit(
                    partial(campaign_start.delay, campaign.pk), what=f"campaign {campaign.pk} start"
                )
            started.append(campaign.pk)
        except CampaignError:
            continue  # another beat run started it first
    return started


def _by(actor: Actor) -> str:
    """Who, for a state reason: the username, or "an operator"."""
    return "an operator" if actor is OPERATOR else actor_label(actor)


def campaign_pause(*, campaign: Campaign, actor: Actor, reason: str = "") -> Campaign:
    """Pause: batches not yet claimed wait; nothing already handed to Infobip is affected."""
    actor_require(actor, SEND, doing="pause campaigns")
    reason = reason or f"paused by {_by(actor)}"
    with transaction.atomic():
        campaign = _move(campaign, CampaignState.PAUSED, reason=reason)
        audit_record(actor=actor, action="pause", campaign=campaign, detail=reason)
    return campaign


def campaign_resume(*, campaign: Campaign, actor: Actor) -> Campaign:
    """Resume a paused campaign: its batch chains start again."""
    from campaigns.tasks import campaign_dispatch

    actor_require(actor, SEND, doing="resume campaigns")
    with transaction.atomic():
        campaign = _move(campaign, CampaignState.RUNNING)
        audit_record(actor=actor, action="resume", campaign=campaign)
        enqueue_on_commit(
            lambda: campaign_dispatch.delay(campaign.pk), what=f"campaign {campaign.pk} resume"
        )
    return campaign


def campaign_cancel(*, campaign: Campaign, actor: Actor, reason: str = "") -> Campaign:
    """Cancel: every message not yet claimed becomes `skipped` with the reason."""
    actor_require(actor, SEND, doing="cancel campaigns")
    reason = reason or f"cancelled by {_by(actor)}"
    with transaction.atomic():
        campaign = _move(
            campaign, CampaignState.CANCELLED, reason=reason, finished_at=timezone.now()
        )
        _skip_queued(campaign, reason)
        audit_record(actor=actor, action="cancel", campaign=campaign, detail=reason)
    campaign.refresh_from_db()
    return campaign


def _skip_queued(campaign: Campaign, reason: str) -> int:
    """Set-based: queued → skipped, with one event per message and the counters in step.

    Called with the campaign row locked (the cancel's state change), so no claim runs; rows
    of a batch already claimed are left to it: they are being sent, and the answer records
    them (a released batch's rows are skipped then, ledger.batch_take).
    """
    now = timezone.now()
    in_flight = live_batch_ids(campaign_ids=[campaign.pk])
    # Left out in the query, not after it: locking a batch's rows would wait on its answer,
    # which waits on this campaign row (a deadlock, seen in the cancel-mid-run test).
    ids = list(
        Message.objects.filter(campaign=campaign, state="queued")
        .exclude(id__in=sorted(in_flight))
        .select_for_update()
        .values_list("id", flat=True)
    )
    if not ids:
        return 0
    Message.objects.filter(id__in=ids, state="queued").update(
        state="skipped", reason=reason[:500], done_at=now
    )
    MessageEvent.objects.bulk_create(
        [
            MessageEvent(message_id=pk, from_state="queued", to_state="skipped", detail=reason)
            for pk in ids
        ],
        batch_size=5000,
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        count_queued=F("count_queued") - len(ids), count_skipped=F("count_skipped") + len(ids)
    )
    return len(ids)


def campaign_maybe_complete(*, campaign_id: int) -> bool:
    """Mark a running campaign completed once nothing is queued or being sent."""
    filters = {"pk": campaign_id, "state": CampaignState.RUNNING, "count_queued": 0}
    filters |= {"count_sending": 0, "frozen_at__isnull": False, "open_ended": False}
    # A split's rest waiting for the winner (or being written) is still to be sent.
    waiting = Q(split__state__in=[SplitTest.State.TESTING, SplitTest.State.RELEASING])
    campaign = Campaign.objects.filter(**filters).exclude(waiting).first()
    if campaign is None:
        return False
    waits_on = chain_waits_on(campaign)
    if waits_on and campaign.count_accepted:
        # Messages of a step with a step after it may still fail and need it: not done yet.
        pending = Message.objects.filter(
            campaign_id=campaign_id, channel__in=waits_on, state="accepted"
        ).exists()
        if pending:
            return False
    completed = (
        Campaign.objects.filter(**filters)
        .exclude(waiting)
        .update(state=CampaignState.COMPLETED, finished_at=timezone.now())
    )
    if completed:
        signals.campaign_state_changed.send(
            Campaign,
            campaign_id=campaign_id,
            from_state=CampaignState.RUNNING,
            to_state=CampaignState.COMPLETED,
            reason="",
        )
    return bool(completed)


def campaign_resend_failed(*, campaign: Campaign, actor: Actor) -> int:
    """New attempts for messages that ended `failed` and may be retried; returns how many."""
    actor_require(actor, SEND, doing="resend campaigns")
    if campaign.history_archived_at is not None:
        raise CampaignError(
            f"campaign {campaign.pk}'s history is archived: restore it first "
            f"(manage.py archive restore {campaign.pk})"
        )
    failed = Message.objects.filter(campaign=campaign, state="failed").exclude(error_permanent=True)
    latest_attempt = {}
    for row in failed.values(
        "id",
        "contact_id",
        "channel",
        "attempt",
        "phone",
        "text",
        "template_values",
        "parts",
        "encoding",
        "variant",
        "split_group",
    ):
        latest_attempt[(row["contact_id"], row["channel"])] = row
    taken = set(
        Message.objects.filter(campaign=campaign, attempt__gt=1).values_list(
            "contact_id", "channel", "attempt"
        )
    )
    new = []
    for (contact_id, channel), row in latest_attempt.items():
        attempt = row["attempt"] + 1
        if (contact_id, channel, attempt) in taken:
            continue
        new.append(
            Message(
                campaign=campaign,
                contact_id=contact_id,
                phone=row["phone"],
                channel=channel,
                attempt=attempt,
                callback_data=callback_data(campaign.pk),
                text=row["text"],
                template_values=row["template_values"],
                parts=row["parts"],
                encoding=row["encoding"],
                state="queued",
                # A resend repeats the row's own variant: nobody gets two variants.
                variant=row["variant"],
                split_group=row["split_group"],
            )
        )
    if not new:
        return 0
    from campaigns.tasks import campaign_dispatch

    with transaction.atomic():
        Message.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        Campaign.objects.filter(pk=campaign.pk).update(count_queued=F("count_queued") + len(new))
        if campaign.state in (CampaignState.COMPLETED, CampaignState.FAILED):
            Campaign.objects.filter(pk=campaign.pk).update(state=CampaignState.RUNNING)
        audit_record(
            actor=actor, action="resend", campaign=campaign, detail=f"{len(new)} attempt(s)"
        )
        enqueue_on_commit(
            lambda: campaign_dispatch.delay(campaign.pk), what=f"campaign {campaign.pk} resend"
        )
    return len(new)


def campaign_test_send(
    *, campaign: Campaign, contact: Contact, to: str, sent_by: AbstractBaseUser | None = None
) -> SendResult:
    """Send the campaign's message, rendered for `contact`, to the number `to` (no ledger).

    `to` may be national in the team's region (campaigns.testsend). The test is kept, with our
    own messageId and its type's report URL, so its delivery report shows where it was sent
    from; an SMS carries the opt-out line the sample contact's country would get.
    """
    from campaigns.opt_out_law import Footers
    from campaigns.testsend import campaign_test_record, destination_parse

    step = campaign_steps(campaign)[0]
    kind = step.kind
    try:
        to = destination_parse(to).lstrip("+")
    except ValidationError as exc:
        raise CampaignError("; ".join(exc.messages)) from None
    values = None
    if kind.uses_template:
        text, values, why = kind.render_template(step.content, contact)
        if why:
            raise CampaignError(f"cannot render for this contact: {why}")
    else:
        rendered = compile_template(campaign.text).render(contact_values(contact))
        if rendered.missing:
            raise CampaignError(f"cannot render for this contact: {rendered.skip_reason}")
        footers = Footers(campaign)
        text = footers.apply(rendered.text, contact) if footers.active else rendered.text
    # From the sender the campaign would use for that number's country, with its fields.
    router = Router(campaign)
    country = country_of(to)
    if problems := router.problems(step, country):
        raise CampaignError("; ".join(problems))
    own = recipient_values(router, step, [(contact.pk, country)]).get(contact.pk, {})
    message_id = uuid.uuid4()
    message = Outbound(
        to=to,
        message_id=str(message_id),
        text=text,
        sender=router.route(step, country).sender,
        notify_url=webhook_url(kind.report_path),
        values=values,
        content=step.content,
        options=router.options(step, country, own),
    )
    outcome = kind.send(get_client(), [message])
    if outcome.refused:
        raise CampaignError(outcome.refused[0][1])
    answer = outcome.result.messages[0] if outcome.result.messages else None
    status = answer.status if answer else None
    rejected = status is not None and state_for_status(status) == "rejected"
    campaign_test_record(
        campaign_id=campaign.pk,
        sent_by=sent_by,
        to="+" + to,
        channel=kind.ledger,
        text=text,
        message_id=message_id,
        state="rejected" if rejected else "accepted",
        status_name=status.name if status else "",
    )
    return outcome.result


def campaign_frequency_cap_override(
    *, campaign: Campaign, actor: Actor, override: bool = True
) -> Campaign:
    """Lift (or restore) the workspace's frequency caps for one campaign before it freezes.

    Needs the send permission, like a launch (the operator holds it); audited.
    """
    actor_require(actor, SEND, doing="lift frequency caps")
    updated = Campaign.objects.filter(pk=campaign.pk, frozen_at__isnull=True).update(
        frequency_cap_override=override
    )
    if not updated:
        raise CampaignError(f"campaign {campaign.pk} is frozen already; caps were applied")
    campaign.refresh_from_db()
    frequency_cap_override_audit(campaign=campaign, actor=actor, override=override)
    return campaign


def frequency_cap_override_audit(*, campaign: Campaign, actor: Actor, override: bool) -> None:
    """The audit entry for lifting (or restoring) a campaign's frequency caps."""
    audit_record(
        actor=actor,
        action="frequency_cap_override" if override else "frequency_cap_restore",
        campaign=campaign,
        detail=f"frequency caps {'lifted' if override else 'restored'} by {actor_label(actor)}",
    )


def campaign_status(*, campaign: Campaign, breakdown: bool = False) -> dict[str, Any]:
    """The status document of INTERFACE.md (`campaign status --json`), from counters only.

    `breakdown` adds clicks per link and cost per channel (three aggregate queries over the
    campaign's ledger and clicks): the command and exports ask for it, live pages need not.
    """
    campaign.refresh_from_db()
    status: dict[str, Any] = {  # a JSON document: INTERFACE.md names its fields
        "id": campaign.pk,
        "name": campaign.name,
        "state": campaign.state,
        "state_reason": campaign.state_reason,
        "channel": campaign.channel,
        "recipients": campaign.recipients,
        "counts": campaign_live_counts(campaign),
        "failover": {"sent": campaign.failover_sent, "delivered": campaign.failover_delivered},
        # Counted once per person across attempts (issue 26 #10): see campaigns/people.py.
        "people": campaign_people(campaign=campaign).as_dict(),
        "cost": {
            "amount": f"{campaign.cost_amount:.4f}",
            "currency": campaign.cost_currency or settings.HERALD_PRICES.get("currency", "EUR"),
        },
        "launched_at": campaign.launched_at.isoformat() if campaign.launched_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
        "track_links": campaign.track_links,
        "validity_minutes": {
            "sms": campaign.sms_validity_minutes,
            "whatsapp": campaign.whatsapp_validity_minutes,
            "failover_sms": campaign.failover_validity_minutes,
        },
        "fallback": chain_names(campaign_steps(campaign)),
        # Where its ledger is (campaigns/history.py): null while the rows are live.
        "history": {
            "archived_at": campaign.history_archived_at.isoformat(),
            "file": campaign.history_archive,
            "messages": campaign.history_archive_messages,
            "events": campaign.history_archive_events,
        }
        if campaign.history_archived_at
        else None,
    }
    if campaign.count_queued:
        from campaigns.quiet import quiet_hours_waiting

        # Why queued messages are not going: held by quiet hours until `next_at`.
        waiting = quiet_hours_waiting(campaign_id=campaign.pk, now=timezone.now())
        if waiting:
            status["waiting"] = waiting | {"next_at": waiting["next_at"].isoformat()}
    estimated = campaign.estimated_cost
    status["cost"]["estimated"] = f"{estimated:.4f}" if estimated is not None else None
    if breakdown:
        from campaigns.insights import campaign_clicks, campaign_cost_by_channel

        figures = campaign.history_figures  # an archived campaign's, taken from its rows
        status["cost"]["by_channel"] = (
            figures["cost_by_channel"]
            if "cost_by_channel" in figures
            else campaign_cost_by_channel(campaign_id=campaign.pk)
        )
        status["clicks"] = campaign_clicks(campaign_id=campaign.pk)
    from campaigns.split import split_status
    from campaigns.status_sections import status_sections_apply

    status.update(split_status(campaign=campaign))
    status_sections_apply(campaign, status)
    return status


def campaign_live_counts(campaign: Campaign) -> dict[str, int]:
    """The counters, with rows of batches in flight shown as `sending` rather than `queued`.

    The ledger keeps them `queued` until Infobip's answer (one write per message); the
    counters stay equal to a GROUP BY of the ledger, and this is what a reader means.
    """
    counts = dict(campaign.counts)
    if counts.get("queued"):
        in_flight = min(counts["queued"], messages_in_flight(campaign_id=campaign.pk))
        counts["queued"] -= in_flight
        counts["sending"] = counts.get("sending", 0) + in_flight
    return counts


def campaign_recount(*, campaign: Campaign) -> dict[str, int]:
    """Rebuild the denormalised counters from the ledger (repair; one GROUP BY query)."""
    from django.db.models import Count, Sum

    if campaign.history_archived_at is not None:  # no rows to count: the counters are the record
        raise CampaignError(f"campaign {campaign.pk}'s history is archived: nothing to recount")

    rows = Message.objects.filter(campaign=campaign).values("state").annotate(n=Count("id"))
    counts = {f"count_{row['state']}": row["n"] for row in rows}
    fields = {f"count_{s}": 0 for s in campaign.counts} | counts
    failover = Message.objects.filter(campaign=campaign, replaces__isnull=False).aggregate(
        sent=Count("id", filter=~Q(state__in=["queued", "sending", "failed", "skipped"])),
        delivered=Count("id", filter=Q(state="delivered")),
    )
    cost = Message.objects.filter(campaign=campaign).aggregate(total=Sum("price"))["total"] or 0
    Campaign.objects.filter(pk=campaign.pk).update(
        **fields,
        failover_sent=failover["sent"],
        failover_delivered=failover["delivered"],
        cost_amount=cost,
    )
    return fields
