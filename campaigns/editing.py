"""Campaign editing services: update, duplicate, reschedule, delete, archive and unarchive.

Kept apart from campaigns/services.py (launch and lifecycle) so the marketer's editing rules
live in one place. Every function re-reads the campaign's state under a row lock: an edit that
races a launch either wins before the launch or is refused, never half-applied to a running
campaign.
"""

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, FailoverMode, Segment
from campaigns.services import SPEED_LIMIT_MAX, CampaignError, campaign_validate
from campaigns.states import CampaignState
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
    template_mapping: dict | None = None,
    media_url: str = "",
    buttons: list[dict] | None = None,
    failover_mode: str = FailoverMode.NONE,
    failover_text: str = "",
    send_at: dt.datetime | None = None,
    speed_limit: int | None = None,
    speed_unit: str = "minute",
    quiet_hours: tuple[dt.time, dt.time] | None = None,
    segment: Segment | None = None,
    exclude_segment: Segment | None = None,
) -> Campaign:
    """Replace a draft's or scheduled campaign's content; a scheduled one goes back to draft."""
    current = _locked(campaign, EDITABLE, "edited")
    lists = list(lists)
    if not name.strip():
        raise ValidationError("the campaign needs a name")
    if not lists and segment is None:
        raise ValidationError("the campaign needs at least one contact list or a segment")
    if problem := speed_limit_problem(speed_limit):
        raise ValidationError(problem)
    current.name = name.strip()[:NAME_MAX]
    current.channel = channel
    current.text = text
    current.template = template
    current.template_mapping = template_mapping or {}
    current.media_url = media_url
    current.buttons = list(buttons or [])
    current.failover_mode = failover_mode
    current.failover_text = failover_text
    current.send_at = send_at
    current.speed_limit = speed_limit
    current.speed_unit = speed_unit
    current.quiet_hours_start = quiet_hours[0] if quiet_hours else None
    current.quiet_hours_end = quiet_hours[1] if quiet_hours else None
    current.segment = segment
    current.exclude_segment = exclude_segment
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
    """A new draft with the campaign's audience, message and options (never its run)."""
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
        failover_text=source.failover_text,
        failover_sender=source.failover_sender,
        failover_after=source.failover_after,
        track_links=source.track_links,
        sms_validity_minutes=source.sms_validity_minutes,
        whatsapp_validity_minutes=source.whatsapp_validity_minutes,
        failover_validity_minutes=source.failover_validity_minutes,
        # A past send time would make the copy refuse to schedule; a future one is kept.
        send_at=source.send_at if source.send_at and source.send_at > timezone.now() else None,
        speed_limit=source.speed_limit,
        speed_unit=source.speed_unit,
        quiet_hours_start=source.quiet_hours_start,
        quiet_hours_end=source.quiet_hours_end,
        segment_id=source.segment_id,
        exclude_segment_id=source.exclude_segment_id,
        dlt_template_id=source.dlt_template_id,
        iys_recipient_type=source.iys_recipient_type,
        kr_title=source.kr_title,
        exclude_countries=source.exclude_countries,
        created_by=created_by if created_by and created_by.is_authenticated else None,
    )
    copy.save()
    copy.lists.set(source.lists.all())
    copy.exclude_lists.set(source.exclude_lists.all())
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
