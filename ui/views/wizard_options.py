"""The campaign wizard's options step (when, quiet hours, sender, links, validity, speed, caps,
budget, failover), and opening a saved campaign in the wizard.

The options are the last step: it creates (or updates) the draft through the campaign services,
which check everything again, so the wizard refuses nothing they would accept.
"""

import datetime as dt
import zoneinfo
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from campaigns.caps import caps_configured
from campaigns.compliance import opt_out_countries, says_how_to_opt_out
from campaigns.describe import country_rules_words, has_link
from campaigns.editing import EDITABLE, campaign_update
from campaigns.models import (
    SMS_VALIDITY_MAX_MINUTES,
    Campaign,
    FailoverMode,
    SpeedUnit,
)
from campaigns.permissions import SEND
from campaigns.pricing import price_table
from campaigns.rendering import CONTACT_FIELDS, placeholder_syntax_problem
from campaigns.services import (
    SPEED_LIMIT_MAX,
    CampaignError,
    campaign_create,
    sender_problem,
)
from campaigns.steps import primary_validity
from channels.base import PROVIDER
from channels.registry import channel_type
from contacts.models import ContactList
from core.rules import Refused
from ui.access import page
from ui.selectors import audience_time_zones
from ui.services import audit_record
from ui.views.wizard import (
    SESSION_KEY,
    _counter,
    _ctx,
    _fallback_channel,
    _known_placeholders,
    _save,
    _segment,
    _state,
    unknown_placeholders,
)
from whatsapp.models import WhatsAppTemplate


def _local_input(value: dt.datetime | None) -> str:
    """A datetime as a datetime-local input value, in the current time zone."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M") if value else ""


def _hm(value: dt.time | None) -> str:
    return value.strftime("%H:%M") if value else ""


def _validity_form(minutes: int | None) -> tuple[str, str]:
    """Minutes as the form shows them: whole hours in hours, anything else in minutes."""
    if not minutes:
        return "", "hours"
    return (str(minutes // 60), "hours") if minutes % 60 == 0 else (str(minutes), "minutes")


def campaign_state(campaign: Campaign) -> dict:
    """The wizard's answers for an existing campaign: every step shows what was saved."""
    validity, validity_unit = _validity_form(primary_validity(campaign))
    failover_validity, failover_validity_unit = _validity_form(campaign.failover_validity_minutes)
    options = {
        "send_mode": "later" if campaign.send_at else "now",
        "send_at": _local_input(campaign.send_at),
        "speed_limit": str(campaign.speed_limit or ""),
        "speed_unit": campaign.speed_unit,
        # The form says the quiet hours ("don't send between 21:00 and 08:00"); the campaign
        # keeps the window in which sending is allowed (08:00–21:00), as the command line does.
        "quiet_from": _hm(campaign.quiet_hours_end),
        "quiet_until": _hm(campaign.quiet_hours_start),
        "sender": campaign.sender,
        "failover_sender": campaign.failover_sender,
        "validity": validity,
        "validity_unit": validity_unit,
        "failover_validity": failover_validity,
        "failover_validity_unit": failover_validity_unit,
        "max_spend": "" if campaign.max_spend is None else f"{campaign.max_spend.normalize():f}",
        "failover_mode": campaign.failover_mode,
        "failover_text": campaign.failover_text,
    }
    options |= {"track_links": "on"} if campaign.track_links else {}
    options |= {"opt_out_footer": "on"} if campaign.opt_out_footer else {}
    options |= {"frequency_cap_override": "on"} if campaign.frequency_cap_override else {}
    return {
        "editing": campaign.pk,
        "name": campaign.name,
        "lists": sorted(campaign.lists.values_list("pk", flat=True)),
        "exclude_lists": sorted(campaign.exclude_lists.values_list("pk", flat=True)),
        "segment": campaign.segment_id,
        "exclude_segment": campaign.exclude_segment_id,
        "channel": campaign.channel,
        "text": campaign.text,
        "media_url": campaign.media_url,
        "buttons": campaign.buttons or [],
        "template": campaign.template_id,
        "template_mapping": campaign.template_mapping or {},
        "options": options,
    }


@page("campaigns.change_campaign")
def edit(request, pk: int):
    """Open a draft or scheduled campaign in the wizard, every step filled with what was saved."""
    campaign = get_object_or_404(Campaign, pk=pk)
    if campaign.state not in EDITABLE:
        messages.error(
            request,
            f"“{campaign.name}” is {campaign.get_state_display().lower()}: only drafts and "
            "scheduled campaigns can be edited. Duplicate it to reuse it.",
        )
        return redirect("ui:campaign", pk=pk)
    request.session[SESSION_KEY] = campaign_state(campaign)
    return redirect(f"{reverse('ui:wizard_audience')}?edit=1")


def _parse_time(value: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(value) if value else None
    except ValueError:
        return None


def parse_send_at(value: str) -> dt.datetime | None:
    """A datetime-local value in the current time zone, or None when it is not one."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = timezone.make_aware(parsed)
    return parsed


def _options_defaults(state: dict, fallback: str | None) -> dict:
    kind = channel_type(state["channel"])
    defaults = {
        "send_mode": "now",
        "speed_unit": SpeedUnit.MINUTE,
        "validity_unit": "hours",
        "failover_validity_unit": "hours",
        "failover_mode": FailoverMode.HERALD if fallback else FailoverMode.NONE,
        "opt_out_footer": "on",
    }
    # Click tracking is on by default for a text with a link on a type that shortens links by
    # default (SMS, issue 26 #2): the marketer sees what a link earned without having to know
    # the option exists.
    if kind.tracks_links_by_default and has_link(state.get("text", "")):
        defaults["track_links"] = "on"
    return defaults


VALIDITY_UNITS = {"minutes": 1, "hours": 60}


def _minutes(form: dict, name: str, errors: dict[str, str], label: str) -> int | None:
    """A validity field (number and unit) in minutes; None when empty, an error when wrong."""
    value = form.get(name, "").strip()
    if not value:
        return None
    unit = VALIDITY_UNITS.get(form.get(f"{name}_unit", "hours"))
    if not value.isdigit() or unit is None or int(value) < 1 or len(value) > 6:
        errors[name] = f"The {label} must be a whole number of minutes or hours, at least 1."
        return None
    return int(value) * unit


def _max_spend(form: dict, errors: dict[str, str]) -> Decimal | None:
    value = form.get("max_spend", "").strip().replace(",", "")
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0 or amount >= 10**10:
        errors["max_spend"] = "The budget cap must be an amount such as 250.00, more than 0."
        return None
    return amount.quantize(Decimal("0.0001"))


def _options_check(form: dict, state: dict, fallback: str | None) -> tuple[dict, dict[str, str]]:
    """The options form as campaign fields, and the errors by field (empty when valid)."""
    field_errors: dict[str, str] = {}
    kind = channel_type(state["channel"])
    send_at = None
    if form.get("send_mode") == "later":
        send_at = parse_send_at(form.get("send_at", ""))
        if send_at is None:
            field_errors["send_at"] = "Give the date and time to send at."
        elif send_at <= timezone.now():
            field_errors["send_at"] = "The send time is in the past."
    quiet_override = None
    if form.get("send_mode") == "local":
        send_at, quiet_override, problem = _recipient_local(form, state)
        if problem:
            field_errors["local"] = problem
    speed = form.get("speed_limit", "").strip()
    if speed and not speed.isdigit():
        field_errors["speed_limit"] = "The speed limit must be a whole number."
    elif speed and not 1 <= int(speed) <= SPEED_LIMIT_MAX:
        field_errors["speed_limit"] = (
            f"The speed limit must be between 1 and {SPEED_LIMIT_MAX:,} messages."
        )
    speed_unit = form.get("speed_unit", SpeedUnit.MINUTE)
    if speed_unit not in SpeedUnit.values:
        field_errors["speed_limit"] = "Choose per second or per minute."
    # "Don't send between FROM and UNTIL": the allowed window is UNTIL → FROM.
    quiet_from = _parse_time(form.get("quiet_from", ""))
    quiet_until = _parse_time(form.get("quiet_until", ""))
    quiet = (quiet_until, quiet_from)
    if (quiet_from is None) != (quiet_until is None):
        field_errors["quiet_hours"] = "Give both times of the quiet hours, or neither."
    elif quiet_from is not None and quiet_from == quiet_until:
        field_errors["quiet_hours"] = (
            "The quiet hours start and end at the same time: give e.g. 21:00 and 08:00, or "
            "leave both empty."
        )
    # A template type goes from the template's own number (a template belongs to one sender);
    # the form asks for a sender for the other types.
    sender = _template_sender(state) if kind.uses_template else form.get("sender", "").strip()
    if wrong := sender_problem(sender, kind=kind):
        field_errors["sender"] = f"The sender {wrong}."
    failover_mode = form.get("failover_mode", FailoverMode.NONE) if fallback else "none"
    if failover_mode not in FailoverMode.values:
        field_errors["failover_mode"] = "Choose how the fallback works."
    falls_back = fallback is not None and failover_mode != FailoverMode.NONE
    failover_sender = form.get("failover_sender", "").strip() if falls_back else ""
    if (
        fallback
        and falls_back
        and (wrong := sender_problem(failover_sender, kind=channel_type(fallback)))
    ):
        field_errors["failover_sender"] = f"The fallback sender {wrong}."
    validity = _minutes(form, "validity", field_errors, "validity")
    herald_validity = kind.validity != PROVIDER
    if validity is not None and not herald_validity and validity > SMS_VALIDITY_MAX_MINUTES:
        field_errors["validity"] = (
            f"Infobip tries {kind.medium_label} for at most 48 hours: give 48 or less."
        )
    failover_validity = None
    if falls_back:
        failover_validity = _minutes(form, "failover_validity", field_errors, "fallback validity")
        if failover_validity is not None and failover_validity > SMS_VALIDITY_MAX_MINUTES:
            field_errors["failover_validity"] = (
                "Infobip tries a message for at most 48 hours: give 48 or less."
            )
    max_spend = _max_spend(form, field_errors)
    failover_text = form.get("failover_text", "") if fallback else ""
    if fallback and failover_mode != FailoverMode.NONE and failover_text.strip():
        if wrong := channel_type(fallback).cap_check(failover_text) or (
            placeholder_syntax_problem(failover_text)
        ):
            field_errors["failover_text"] = wrong[0].upper() + wrong[1:] + "."
        elif wrong := unknown_placeholders(failover_text, _known_placeholders(state)):
            field_errors["failover_text"] = wrong
    fields = {
        "name": state["name"],
        "channel": state["channel"],
        "lists": ContactList.objects.filter(pk__in=state["lists"]),
        "exclude_lists": ContactList.objects.filter(pk__in=state.get("exclude_lists", [])),
        "segment": _segment(state.get("segment")),
        "exclude_segment": _segment(state.get("exclude_segment")),
        "text": "" if kind.uses_template else state.get("text", ""),
        "media_url": state.get("media_url", "") if not kind.uses_template else "",
        "buttons": state.get("buttons") or [] if not kind.uses_template else [],
        "template": WhatsAppTemplate.objects.filter(pk=state.get("template") or 0).first(),
        "template_mapping": state.get("template_mapping") or {},
        "failover_mode": failover_mode,
        "failover_text": failover_text,
        "send_at": send_at,
        "speed_limit": int(speed) if speed and not field_errors.get("speed_limit") else None,
        "speed_unit": speed_unit,
        "quiet_hours": quiet_override
        or (quiet if quiet[0] is not None and quiet[1] is not None else None),
        "sender": sender,
        "failover_sender": failover_sender,
        "track_links": form.get("track_links") == "on",
        "sms_validity_minutes": None if herald_validity else validity,
        "whatsapp_validity_minutes": validity if herald_validity else None,
        "failover_validity_minutes": failover_validity,
        "max_spend": max_spend,
        "frequency_cap_override": form.get("frequency_cap_override") == "on",
        # Only SMS carries the footer; other types keep the default (it has no effect there).
        "opt_out_footer": form.get("opt_out_footer") == "on" or kind.ledger != "sms",
    }
    return fields, field_errors


def _recipient_local(form: dict, state: dict) -> tuple[dt.datetime | None, tuple | None, str]:
    """ "At 10:00 in each recipient's local time" as a start time plus a sending window.

    The campaign starts at the first moment it is that time in any of the audience's zones; the
    window (quiet hours, which the engine applies in each recipient's zone) holds everyone else
    until it is that time where they are.
    """
    try:
        day = dt.date.fromisoformat(form.get("local_date", ""))
    except ValueError:
        return None, None, "Give the day to send on."
    at = _parse_time(form.get("local_time", ""))
    until = _parse_time(form.get("local_until", ""))
    if at is None or until is None:
        return None, None, "Give the local time to send at, and until when."
    if until <= at:
        return None, None, "The window must end after the local send time (same day)."
    zones = audience_time_zones(list_ids=state.get("lists", []), segment_id=state.get("segment"))
    starts = []
    for name in zones:
        try:
            zone = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        starts.append(dt.datetime.combine(day, at, tzinfo=zone))
    if not starts:
        starts = [timezone.make_aware(dt.datetime.combine(day, at))]
    first = min(starts)
    if first <= timezone.now():
        return (
            None,
            None,
            (
                f"It is already past {at:%H:%M} on {day:%Y-%m-%d} for some recipients "
                f"({first.tzinfo}): choose a later day."
            ),
        )
    return first, (at, until), ""


@page("campaigns.add_campaign")
def options(request):
    state = _state(request)
    if not state.get("channel"):
        return redirect("ui:wizard_message")
    kind = channel_type(state["channel"])
    fallback = _fallback_channel(state)
    field_errors: dict[str, str] = {}
    errors: list[str] = []
    form = state.get("options") or _options_defaults(state, fallback)
    if request.method == "POST":
        form = {k: v for k, v in request.POST.dict().items() if k != "csrfmiddlewaretoken"}
        _save(request, options=form)
        if form.get("nav") == "back":
            return redirect("ui:wizard_message")
        fields, field_errors = _options_check(form, state, fallback)
        if not field_errors:
            editing = state.get("editing")
            try:
                if editing:
                    target = get_object_or_404(Campaign, pk=editing)
                    campaign = campaign_update(campaign=target, actor=request.user, **fields)
                else:
                    campaign = campaign_create(created_by=request.user, **fields)
            except ValidationError as exc:
                errors += exc.messages
            except CampaignError as exc:
                errors.append(str(exc))
            except Refused as exc:
                field_errors["frequency_cap_override"] = f"Not saved: {exc}."
            else:
                request.session.pop(SESSION_KEY, None)
                action = "edit" if editing else "create"
                audit_record(actor=request.user, action=action, campaign=campaign)
                saved = "Changes saved." if editing else "Draft saved."
                messages.success(request, f"{saved} Check the preview and send a test.")
                return redirect("ui:campaign_preview", pk=campaign.pk)
    context = _ctx(
        "options",
        state=state,
        form=form,
        errors=[*field_errors.values(), *errors],
        general_errors=errors,
        field_errors=field_errors,
        fallback=channel_type(fallback) if fallback else None,
        own=kind,
        herald_validity=kind.validity != PROVIDER,
        failover_modes=FailoverMode.choices,
        speed_units=SpeedUnit.choices,
        speed_limit_max=SPEED_LIMIT_MAX,
        time_zone=timezone.get_current_timezone_name(),
        server_zone=settings.TIME_ZONE,
        fields=list(CONTACT_FIELDS),
        default_sender=kind.default_sender(),
        template_sender=_template_sender(state),
        fallback_sender=channel_type(fallback).default_sender() if fallback else "",
        short_domain=settings.INFOBIP_SHORT_DOMAIN,
        text_has_link=has_link(state.get("text", "")),
        caps=_caps_text(state),
        can_lift_caps=request.user.has_perm(SEND),
        country_quiet_hours=country_rules_words(),
        currency=price_table().currency,
        validity_units=[("minutes", "minutes"), ("hours", "hours")],
        known_senders=_known_senders(kind.name),
        opt_out_countries=sorted(opt_out_countries()),
        text_says_opt_out=says_how_to_opt_out(state.get("text", "")),
        **_counter(form.get("failover_text", ""), state, fallback, footer=False),
    )
    status = 400 if context["errors"] else 200
    return render(request, "ui/wizard_options.html", context, status=status)


def _known_senders(channel: str) -> list[str]:
    """Senders to pick from: the type's default and those recent campaigns of it used."""
    default = channel_type(channel).default_sender()
    used = (
        Campaign.objects.exclude(sender="")
        .filter(channel=channel)
        .order_by("-created_at")
        .values_list("sender", flat=True)[:50]
    )
    failovers = (
        Campaign.objects.exclude(failover_sender="")
        .order_by("-created_at")
        .values_list("failover_sender", flat=True)[:50]
    )
    return list(dict.fromkeys([default, *used, *failovers]))[:20]


def _template_sender(state: dict) -> str:
    """The number a template campaign sends from: its template's."""
    template = WhatsAppTemplate.objects.filter(pk=state.get("template") or 0).first()
    return template.sender if template else ""


def _caps_text(state: dict) -> str:
    """The workspace's caps that apply to the channel, in words ("" when there are none)."""
    medium = channel_type(state["channel"]).ledger
    caps = [cap for cap in caps_configured() if cap.applies_to(medium)]
    return "; ".join(
        f"{cap.messages} message{'s' if cap.messages != 1 else ''} in {cap.days} "
        f"day{'s' if cap.days != 1 else ''}"
        for cap in caps
    )
