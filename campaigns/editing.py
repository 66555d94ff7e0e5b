"""Campaign editing services: update, duplicate, reschedule, delete, archive and unarchive.

Kept apart from campaigns/services.py (launch and lifecycle) so the marketer's editing rules
live in one place. Every function re-reads the campaign's state under a row lock: an edit that
races a launch either wins before the launch or is refused, never half-applied to a running
campaign.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from campaigns.audience import audience_problem
from campaigns.models import (
    LEGACY_FAILOVER_CHANNEL,
    AudienceMatch,
    Campaign,
    FailoverMode,
    Segment,
    SplitTest,
    Variant,
)
from campaigns.permissions import SEND
from campaigns.services import (
    SPEED_LIMIT_MAX,
    CampaignError,
    campaign_validate,
    frequency_cap_override_audit,
)
from campaigns.split import SplitSpec, VariantSpec, split_configure
from campaigns.states import CampaignState
from campaigns.steps import fallback_steps
from channels.senders import sender_is_auto
from contacts.models import ContactList
from core.rules import Actor, actor_require
from core.services import audit_record
from whatsapp.models import WhatsAppTemplate

EDITABLE = (CampaignState.DRAFT, CampaignState.SCHEDULED)
# A campaign that can still send (scheduled, running, paused) is never archived: it would go on
# sending out of sight. Drafts and finished campaigns can.
ARCHIVABLE = (
    CampaignState.DRAFT,
    CampaignState.COMPLETED,
    CampaignState.CANCELLED,
    CampaignState.FAILED,
)
NAME_MAX = 200


def _locked(campaign: Campaign, allowed: Iterable[str], verb: str) -> Campaign:
    """The campaign's row, locked for this transaction; CampaignError unless in `allowed`."""
    current = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if current.state not in allowed:
        raise CampaignError(
            f"“{current.name}” is {current.get_state_display().lower()}: it can no longer be {verb}"
        )
    return current


def speed_limit_problem(speed_limit: int | None) -> str | None:
    """Why a speed limit is out of bounds (None when it is fine or not set)."""
    if speed_limit is None:
        return None
    if not 1 <= speed_limit <= SPEED_LIMIT_MAX:
        return f"the speed limit must be between 1 and {SPEED_LIMIT_MAX:,} messages"
    return None


@transaction.atomic
def campaign_update(
    *,
    campaign: Campaign,
    name: str,
    channel: str,
    lists: Iterable[ContactList],
    exclude_lists: Iterable[ContactList] = (),
    text: str = "",
    template: WhatsAppTemplate | None = None,
    template_mapping: dict[str, Any] | None = None,
    media_url: str = "",
    buttons: list[dict[str, Any]] | None = None,
    fallback: Any = None,
    failover_mode: str = FailoverMode.NONE,
    failover_text: str = "",
    send_at: dt.datetime | None = None,
    speed_limit: int | None = None,
    speed_unit: str = "minute",
    quiet_hours: tuple[dt.time, dt.time] | None = None,
    segment: Segment | None = None,
    exclude_segment: Segment | None = None,
    audience_match: str = AudienceMatch.ANY,
    variants: Sequence[VariantSpec] | None = None,
    test: SplitSpec | None = None,
    sender: str = "",
    failover_sender: str = "",
    track_links: bool = False,
    sms_validity_minutes: int | None = None,
    whatsapp_validity_minutes: int | None = None,
    failover_validity_minutes: int | None = None,
    max_spend: Decimal | None = None,
    frequency_cap_override: bool = False,
    opt_out_footer: bool = True,
    actor: Actor | None = None,
) -> Campaign:
    """Replace a draft's or scheduled campaign's content; a scheduled one goes back to draft.

    `variants` (with `test`) replace its split test; None leaves the split as it is.
    Lifting the frequency caps needs the send permission of `actor` (restoring them does not);
    either change is audited.
    """
    current = _locked(campaign, EDITABLE, "edited")
    lifting = frequency_cap_override and not current.frequency_cap_override
    if lifting:
        actor_require(actor, SEND, doing="lift frequency caps")
    lists = list(lists)
    if not name.strip():
        raise ValidationError("the campaign needs a name")
    if problem := audience_problem(lists=lists, segment=segment, match=audience_match):
        raise ValidationError(problem)
    if problem := speed_limit_problem(speed_limit):
        raise ValidationError(problem)
    current.name = name.strip()[:NAME_MAX]
    current.channel = channel
    current.text = text
    current.template = template
    current.template_mapping = template_mapping or {}
    current.media_url = media_url
    current.buttons = list(buttons or [])
    try:
        chain = fallback_steps(fallback)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    if chain and failover_mode == FailoverMode.NONE:
        failover_mode = FailoverMode.HERALD
    current.failover_mode = failover_mode
    current.fallback = chain
    if failover_mode != FailoverMode.NONE and not chain:
        current.fallback = [
            {"channel": LEGACY_FAILOVER_CHANNEL, "text": "", "sender": "", "validity_minutes": None}
        ]
    if failover_text:
        current.failover_text = failover_text
    current.send_at = send_at
    current.speed_limit = speed_limit
    current.speed_unit = speed_unit
    current.quiet_hours_start = quiet_hours[0] if quiet_hours else None
    current.quiet_hours_end = quiet_hours[1] if quiet_hours else None
    current.segment = segment
    current.exclude_segment = exclude_segment
    current.audience_match = audience_match
    current.sender = sender
    if failover_sender:  # the chain's SMS step (a chain given with its own senders keeps them)
        current.failover_sender = failover_sender
    current.track_links = track_links
    current.sms_validity_minutes = sms_validity_minutes
    current.whatsapp_validity_minutes = whatsapp_validity_minutes
    if failover_validity_minutes is not None:
        current.failover_validity_minutes = failover_validity_minutes
    current.max_spend = max_spend
    current.opt_out_footer = opt_out_footer
    changed_override = current.frequency_cap_override != frequency_cap_override
    current.frequency_cap_override = frequency_cap_override
    errors = campaign_validate(campaign=current)
    if errors:
        raise ValidationError(errors)
    # Whatever was scheduled was scheduled for the old content: the new one is launched again
    # (and passes launch's checks again) before it goes anywhere.
    if current.state == CampaignState.SCHEDULED:
        current.state = CampaignState.DRAFT
        current.state_reason = "edited after scheduling; launch again to schedule"
    current.save()
    current.lists.set(lists)
    current.exclude_lists.set(list(exclude_lists))
    if variants is not None:
        # The campaign is a draft now (a scheduled one went back): its split may change.
        split_configure(campaign=current, variants=variants, test=test)
        current.refresh_from_db()
    if changed_override and actor is not None:
        frequency_cap_override_audit(campaign=current, actor=actor, override=frequency_cap_override)
    return current


@transaction.atomic
def campaign_countries_update(
    *,
    campaign: Campaign,
    actor: Actor,
    exclude: Iterable[str] = (),
    include: Iterable[str] = (),
    sender: str | None = None,
    dlt_template_id: str | None = None,
    iys_recipient_type: str | None = None,
    kr_title: str | None = None,
) -> Campaign:
    """Change what a draft says for countries' rules: excluded countries, sender, regional ids.

    The fixes the preview's compliance list asks for (exclude a country's recipients, set the
    DLT template, a default IYS type…); None leaves a field as it is. A scheduled campaign goes
    back to draft, as with any edit.
    """
    actor_require(actor, "campaigns.change_campaign", doing="change campaigns")
    current = _locked(campaign, EDITABLE, "edited")
    countries = {c for c in current.exclude_countries if isinstance(c, str)}
    countries |= {c.strip().upper() for c in exclude if c.strip()}
    countries -= {c.strip().upper() for c in include if c.strip()}
    current.exclude_countries = sorted(countries)
    if sender is not None:
        current.sender = "" if sender_is_auto(sender) else sender.strip()
    if dlt_template_id is not None:
        current.dlt_template_id = dlt_template_id.strip()
    if iys_recipient_type is not None:
        current.iys_recipient_type = iys_recipient_type.strip().upper()
    if kr_title is not None:
        current.kr_title = kr_title.strip()
    if errors := campaign_validate(campaign=current):
        raise ValidationError(errors)
    if current.state == CampaignState.SCHEDULED:
        current.state = CampaignState.DRAFT
        current.state_reason = "edited after scheduling; launch again to schedule"
    current.save()
    audit_record(
        actor=actor,
        action="campaign_countries",
        campaign=current,
        detail=(
            f"excluded countries: {', '.join(current.exclude_countries) or 'none'}; sender: "
            f"{current.sender or 'auto'}; DLT template: {current.dlt_template_id or '-'}"
        ),
    )
    return current


@transaction.atomic
def campaign_duplicate(*, campaign: Campaign, created_by: User | None, name: str = "") -> Campaign:
    """A new draft with the campaign's audience, message and options (never its run or time)."""
    source = Campaign.objects.get(pk=campaign.pk)
    copy = Campaign(
        name=(name.strip() or f"Copy of {source.name}")[:NAME_MAX],
        channel=source.channel,
        sender=source.sender,
        text=source.text,
        template=source.template,
        template_mapping=source.template_mapping,
        media_url=source.media_url,
        buttons=source.buttons,
        failover_mode=source.failover_mode,
        fallback=source.fallback,
        failover_after=source.failover_after,
        track_links=source.track_links,
        sms_validity_minutes=source.sms_validity_minutes,
        whatsapp_validity_minutes=source.whatsapp_validity_minutes,
        # Never the source's send time: a copy is a new campaign, and a kept time would launch
        # it at the original's moment (or refuse it once that moment has passed). The marketer
        # chooses when the copy goes.
        send_at=None,
        speed_limit=source.speed_limit,
        speed_unit=source.speed_unit,
        quiet_hours_start=source.quiet_hours_start,
        quiet_hours_end=source.quiet_hours_end,
        segment_id=source.segment_id,
        exclude_segment_id=source.exclude_segment_id,
        audience_match=source.audience_match,
        max_spend=source.max_spend,
        opt_out_footer=source.opt_out_footer,
        # Not frequency_cap_override: lifting the caps is the send permission's decision, made
        # (and audited) for one campaign; the copy's sender decides again.
        dlt_template_id=source.dlt_template_id,
        iys_recipient_type=source.iys_recipient_type,
        kr_title=source.kr_title,
        exclude_countries=source.exclude_countries,
        created_by=created_by if created_by and created_by.is_authenticated else None,
    )
    copy.save()
    copy.lists.set(source.lists.all())
    copy.exclude_lists.set(source.exclude_lists.all())
    # The split test's setup comes along (a fresh seed, nothing decided).
    if (split := SplitTest.objects.filter(campaign=source).first()) is not None:
        specs = [
            VariantSpec(
                name=v.name,
                text=v.text,
                template=v.template,
                template_mapping=v.template_mapping,
                coupon=v.coupon,
            )
            for v in Variant.objects.filter(campaign=source).select_related("template")
        ]
        test = SplitSpec(
            share=split.test_share,
            holdout=split.holdout,
            winner_by=split.winner_by,
            decide_after=split.decide_after,
            if_undecided=split.if_undecided,
        )
        split_configure(campaign=copy, variants=specs, test=test)
    return copy


@transaction.atomic
def campaign_reschedule(
    *, campaign: Campaign, send_at: dt.datetime, now: dt.datetime | None = None
) -> Campaign:
    """Move a scheduled (or draft) campaign's send time; the time must be in the future."""
    current = _locked(campaign, EDITABLE, "rescheduled")
    if timezone.is_naive(send_at):
        raise ValidationError("the send time needs a time zone")
    if send_at <= (now or timezone.now()):
        raise ValidationError("the send time is in the past")
    current.send_at = send_at
    current.save(update_fields=["send_at", "updated_at"])
    return current


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> str:
    """Delete a draft (nothing was ever sent for it); returns its name."""
    current = _locked(campaign, (CampaignState.DRAFT,), "deleted")
    if current.messages.exists():
        raise CampaignError(f"“{current.name}” has messages in its ledger: it cannot be deleted")
    name = current.name
    current.delete()
    return name


def _archivable(campaign: Campaign, verb: str) -> Campaign:
    """The campaign's row, locked; CampaignError if it can still send."""
    current = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if current.state not in ARCHIVABLE:
        raise CampaignError(
            f"“{current.name}” is {current.get_state_display().lower()}: only drafts and "
            f"completed, cancelled or failed campaigns can be {verb}"
        )
    return current


@transaction.atomic
def campaign_archive(*, campaign: Campaign, actor: Actor) -> Campaign:
    """Hide a draft or finished campaign from the list and dashboard (state and ledger kept)."""
    actor_require(actor, "campaigns.change_campaign", doing="archive campaigns")
    current = _archivable(campaign, "archived")
    if current.archived_at is None:
        current.archived_at = timezone.now()
        # Only this column: updated_at stays what the campaign's content last was.
        Campaign.objects.filter(pk=current.pk).update(archived_at=current.archived_at)
        audit_record(actor=actor, action="archive", campaign=current)
    return current


@transaction.atomic
def campaign_unarchive(*, campaign: Campaign, actor: Actor) -> Campaign:
    """Show an archived campaign in the list and dashboard again."""
    actor_require(actor, "campaigns.change_campaign", doing="archive campaigns")
    # Any state: bringing a campaign back into view never sends anything.
    current = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if current.archived_at is not None:
        current.archived_at = None
        Campaign.objects.filter(pk=current.pk).update(archived_at=None)
        audit_record(actor=actor, action="unarchive", campaign=current)
    return current
