"""The campaign wizard's options step (when, quiet hours, sender, links, validity, speed, caps,
budget, the fallback chain), and opening a saved campaign in the wizard.

The options are the last step: it creates (or updates) the draft through the campaign services,
which check everything again, so the wizard refuses nothing they would accept.
"""

import datetime as dt
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from campaigns.caps import caps_configured
from campaigns.describe import country_rules_words, has_link
from campaigns.editing import EDITABLE, campaign_update
from campaigns.models import (
    SMS_VALIDITY_MAX_MINUTES,
    AudienceMatch,
    Campaign,
    FailoverMode,
    SpeedUnit,
)
from campaigns.opt_out_law import opt_out_countries, says_how_to_opt_out
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
from channels.base import PROVIDER, ChannelType
from channels.registry import UnknownChannel, channel_type, channel_types
from contacts.models import ContactList
from core.rules import Refused
from ui.access import AuthenticatedRequest, page
from ui.selectors import audience_time_zones
from ui.services import audit_record
from ui.views.wizard import (
    FALLBACK_ROWS,
    SESSION_KEY,
    _counter,
    _ctx,
    _known_placeholders,
    _save,
    _segment,
    _state,
    fallback_options,
    unknown_placeholders,
)
from ui.views.wizard_split import split_specs, split_state
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


def campaign_state(campaign: Campaign) -> dict[str, Any]:
    """The wizard's answers for an existing campaign: every step shows what was saved."""
    validity, validity_unit = _validity_form(primary_validity(campaign))
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
        "validity": validity,
        "validity_unit": validity_unit,
        "max_spend": "" if campaign.max_spend is None else f"{campaign.max_spend.normalize():f}",
        "failover_mode": campaign.failover_mode,
    }
    for i, step in enumerate(campaign.fallback or []):
        step_validity, step_unit = _validity_form(step.get("validity_minutes"))
        options |= {
            f"fallback_{i}": step.get("channel") or "",
            f"fallback_text_{i}": step.get("text") or "",
            f"fallback_sender_{i}": step.get("sender") or "",
            f"fallback_validity_{i}": step_validity,
            f"fallback_validity_unit_{i}": step_unit,
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
        "audience_match": campaign.audience_match,
        "channel": campaign.channel,
        "text": campaign.text,
        "media_url": campaign.media_url,
        "buttons": campaign.buttons or [],
        "template": campaign.template_id,
        "template_mapping": campaign.template_mapping or {},
        "options": options,
        "split": split_state(campaign),
    }


@page("campaigns.change_campaign")
def edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
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


def _options_defaults(state: dict[str, Any], options: list[ChannelType]) -> dict[str, Any]:
    kind = channel_type(state["channel"])
    # The type's default chain is offered ready to use (SMS after WhatsApp, Viber or RCS).
    allowed = {option.name for option in options}
    default = [name for name in kind.default_fallback if name in allowed][:FALLBACK_ROWS]
    defaults = {
        "send_mode": "now",
        "speed_unit": SpeedUnit.MINUTE,
        "validity_unit": "hours",
        "failover_mode": FailoverMode.HERALD if default else FailoverMode.NONE,
        "opt_out_footer": "on",
        **{f"fallback_{i}": name for i, name in enumerate(default)},
        **{f"fallback_validity_unit_{i}": "hours" for i in range(FALLBACK_ROWS)},
    }
    # Click tracking is on by default for a text with a link on a type that shortens links by
    # default (SMS, issue 26 #2): the marketer sees what a link earned without having to know
    # the option exists.
    if kind.tracks_links_by_default and has_link(state.get("text", "")):
        defaults["track_links"] = "on"
    return defaults


VALIDITY_UNITS = {"minutes": 1, "hours": 60}


def _minutes(
    form: dict[str, Any], name: str, errors: dict[str, str], label: str, *, unit_field: str = ""
) -> int | None:
    """A validity field (number and unit) in minutes; None when empty, an error when wrong."""
    value = form.get(name, "").strip()
    if not value:
        return None
    unit = VALIDITY_UNITS.get(form.get(unit_field or f"{name}_unit", "hours"))
    if (
        not (value.isascii() and value.isdigit())
        or unit is None
        or int(value) < 1
        or len(value) > 6
    ):
        errors[name] = f"The {label} must be a whole number of minutes or hours, at least 1."
        return None
    return int(value) * unit


def _max_spend(form: dict[str, Any], errors: dict[str, str]) -> Decimal | None:
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


def _chain_check(
    form: dict[str, Any], state: dict[str, Any], options: list[ChannelType], errors: dict[str, str]
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback mode, chain) from the options form: each step's channel, text, sender and
    validity; problems go into `errors` by field."""
    mode = form.get("failover_mode", FailoverMode.NONE) if options else FailoverMode.NONE
    if mode not in FailoverMode.values:
        errors["failover_mode"] = "Choose how the fallback works."
        return FailoverMode.NONE, []
    if mode == FailoverMode.NONE:
        return mode, []
    allowed = {kind.name: kind for kind in options}
    chain: list[dict[str, Any]] = []
    for i in range(FALLBACK_ROWS):
        name = form.get(f"fallback_{i}", "")
        if not name:
            continue
        kind = allowed.get(name)
        if kind is None or name in {step["channel"] for step in chain}:
            errors[f"fallback_{i}"] = "Choose a channel that can follow, once."
            continue
        text = form.get(f"fallback_text_{i}", "")
        if text.strip():
            if wrong := kind.cap_check(text) or placeholder_syntax_problem(text):
                errors[f"fallback_text_{i}"] = wrong[0].upper() + wrong[1:] + "."
            elif wrong := unknown_placeholders(text, _known_placeholders(state)):
                errors[f"fallback_text_{i}"] = wrong
        sender = form.get(f"fallback_sender_{i}", "").strip()
        if wrong := sender_problem(sender, kind=kind):
            errors[f"fallback_sender_{i}"] = f"The {kind.label} sender {wrong}."
        # The unit's field is fallback_validity_unit_<i> (not <name>_unit): read that one.
        validity = _minutes(
            form,
            f"fallback_validity_{i}",
            errors,
            "fallback validity",
            unit_field=f"fallback_validity_unit_{i}",
        )
        if validity is not None and validity > SMS_VALIDITY_MAX_MINUTES:
            errors[f"fallback_validity_{i}"] = (
                "Infobip tries a message for at most 48 hours: give 48 or less."
            )
        chain.append(
            {"channel": name, "text": text, "sender": sender, "validity_minutes": validity}
        )
    if not chain:
        errors["fallback_0"] = "Choose the channel to fall back to, or no fallback."
    return mode, chain


def _options_check(
    form: dict[str, Any], state: dict[str, Any], options: list[ChannelType]
) -> tuple[dict[str, Any], dict[str, str]]:
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
    # ASCII digits only: str.isdigit() accepts "²", which int() refuses (a 500, before).
    if speed and not (speed.isascii() and speed.isdigit()):
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
    failover_mode, chain = _chain_check(form, state, options, field_errors)
    validity = _minutes(form, "validity", field_errors, "validity")
    herald_validity = kind.validity != PROVIDER
    if validity is not None and not herald_validity and validity > SMS_VALIDITY_MAX_MINUTES:
        field_errors["validity"] = (
            f"Infobip tries {kind.medium_label} for at most 48 hours: give 48 or less."
        )
    max_spend = _max_spend(form, field_errors)
    fields = {
        "name": state["name"],
        "channel": state["channel"],
        "lists": ContactList.objects.filter(pk__in=state["lists"]),
        "exclude_lists": ContactList.objects.filter(pk__in=state.get("exclude_lists", [])),
        "segment": _segment(state.get("segment")),
        "exclude_segment": _segment(state.get("exclude_segment")),
        "audience_match": state.get("audience_match", AudienceMatch.ANY),
        "text": "" if kind.uses_template else state.get("text", ""),
        "media_url": state.get("media_url", "") if not kind.uses_template else "",
        "buttons": state.get("buttons") or [] if not kind.uses_template else [],
        "template": WhatsAppTemplate.objects.filter(pk=state.get("template") or 0).first(),
        "template_mapping": state.get("template_mapping") or {},
        "failover_mode": failover_mode,
        "fallback": chain,
        "send_at": send_at,
        "speed_limit": int(speed) if speed and not field_errors.get("speed_limit") else None,
        "speed_unit": speed_unit,
        "quiet_hours": quiet_override
        or (quiet if quiet[0] is not None and quiet[1] is not None else None),
        "sender": sender,
        "track_links": form.get("track_links") == "on",
        "sms_validity_minutes": None if herald_validity else validity,
        "whatsapp_validity_minutes": validity if herald_validity else None,
        "max_spend": max_spend,
        "frequency_cap_override": form.get("frequency_cap_override") == "on",
        # Only SMS carries the footer; other types keep the default (it has no effect there).
        "opt_out_footer": form.get("opt_out_footer") == "on" or kind.ledger != "sms",
    }
    return fields, field_errors


def _recipient_local(
    form: dict[str, Any], state: dict[str, Any]
) -> tuple[dt.datetime | None, tuple[dt.time, dt.time] | None, str]:
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
def options(request: AuthenticatedRequest) -> HttpResponse:
    state = _state(request)
    if not state.get("channel"):
        return redirect("ui:wizard_message")
    kind = channel_type(state["channel"])
    chain_options = fallback_options(state)
    field_errors: dict[str, str] = {}
    errors: list[str] = []
    form = state.get("options") or _options_defaults(state, chain_options)
    if request.method == "POST":
        form = {k: v for k, v in request.POST.dict().items() if k != "csrfmiddlewaretoken"}
        _save(request, options=form)
        if form.get("nav") == "back":
            return redirect("ui:wizard_message")
        fields, field_errors = _options_check(form, state, chain_options)
        if not field_errors:
            editing = state.get("editing")
            variants, test, _ = split_specs(fields["text"], state.get("split"), state["channel"])
            try:
                if editing:
                    target = get_object_or_404(Campaign, pk=editing)
                    campaign = campaign_update(
                        campaign=target, actor=request.user, variants=variants, test=test, **fields
                    )
                else:
                    campaign = campaign_create(
                        created_by=request.user, variants=variants, test=test, **fields
                    )
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
    known = _known_senders()
    context = _ctx(
        "options",
        state=state,
        form=form,
        errors=[*field_errors.values(), *errors],
        general_errors=errors,
        field_errors=field_errors,
        fallback_options=chain_options,
        fallback_rows=_fallback_rows(form, field_errors, known),
        own=kind,
        herald_validity=kind.validity != PROVIDER,
        failover_modes=[
            (value, FAILOVER_MODE_WORDS.get(value, label))
            for value, label in FailoverMode.choices
            if value != FailoverMode.INFOBIP or kind.native_fallback
        ],
        speed_units=SpeedUnit.choices,
        speed_limit_max=SPEED_LIMIT_MAX,
        time_zone=timezone.get_current_timezone_name(),
        server_zone=settings.TIME_ZONE,
        fields=list(CONTACT_FIELDS),
        # The fallback's picker offers what the message step's does: {{opt_out_url}} and the
        # audience's attributes (its text is checked against them).
        attributes=[k for k in _known_placeholders(state) if k not in CONTACT_FIELDS],
        default_sender=kind.default_sender(),
        template_sender=_template_sender(state),
        short_domain=settings.INFOBIP_SHORT_DOMAIN,
        text_has_link=has_link(state.get("text", "")),
        caps=_caps_text(state),
        can_lift_caps=request.user.has_perm(SEND),
        country_quiet_hours=country_rules_words(),
        currency=price_table().currency,
        validity_units=[("minutes", "minutes"), ("hours", "hours")],
        known_senders=known[kind.name],
        opt_out_countries=sorted(opt_out_countries()),
        text_says_opt_out=says_how_to_opt_out(state.get("text", "")),
        **_counter(
            form.get("fallback_text_0", ""), state, form.get("fallback_0") or None, footer=False
        ),
    )
    status = 400 if context["errors"] else 200
    return render(request, "ui/wizard_options.html", context, status=status)


# The fallback mode as the select says it: short enough for a phone's screen (the model's
# labels, which the admin shows, are a sentence each; the hint below the select explains).
FAILOVER_MODE_WORDS: dict[str, str] = {
    FailoverMode.NONE: "No fallback",
    FailoverMode.HERALD: "Herald sends the next step",
    FailoverMode.INFOBIP: "Infobip's own SMS failover",
}


def _fallback_rows(
    form: dict[str, Any], field_errors: dict[str, str], known: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The chain's rows as the form shows them, each with its channel's default sender and the
    senders known for its channel."""
    rows = []
    for i in range(FALLBACK_ROWS):
        channel = form.get(f"fallback_{i}", "")
        try:
            kind = channel_type(channel) if channel else None
        except UnknownChannel:
            kind = None
        rows.append(
            {
                "i": i,
                "channel": channel,
                "text": form.get(f"fallback_text_{i}", ""),
                "sender": form.get(f"fallback_sender_{i}", ""),
                "default_sender": kind.default_sender() if kind else "",
                "known_senders": known.get(kind.name, []) if kind else [],
                "sender_kind": kind.sender_kind if kind else "",
                "validity": form.get(f"fallback_validity_{i}", ""),
                "validity_unit": form.get(f"fallback_validity_unit_{i}", "hours"),
                "sender_name": f"fallback_sender_{i}",
                "errors": {
                    part: field_errors.get(f"fallback_{part}_{i}", "")
                    for part in ("text", "sender", "validity")
                }
                | {"channel": field_errors.get(f"fallback_{i}", "")},
            }
        )
    return rows


def _known_senders() -> dict[str, list[str]]:
    """Senders to pick from, per channel type: its default and those recent campaigns used on
    it — a campaign's own sender for its type, each fallback step's for the step's type (a
    Viber service id is no SMS sender)."""
    used: dict[str, list[str]] = {kind.name: [kind.default_sender()] for kind in channel_types()}
    recent = Campaign.objects.order_by("-created_at").values_list("channel", "sender", "fallback")
    for channel, sender, chain in recent[:100]:
        used.setdefault(channel, []).append(sender)
        for step in chain if isinstance(chain, list) else []:
            if isinstance(step, dict) and step.get("channel"):
                used.setdefault(str(step["channel"]), []).append(str(step.get("sender") or ""))
    return {name: [s for s in dict.fromkeys(senders) if s][:20] for name, senders in used.items()}


def _template_sender(state: dict[str, Any]) -> str:
    """The number a template campaign sends from: its template's."""
    template = WhatsAppTemplate.objects.filter(pk=state.get("template") or 0).first()
    return template.sender if template else ""


def _caps_text(state: dict[str, Any]) -> str:
    """The workspace's caps that apply to the channel, in words ("" when there are none)."""
    medium = channel_type(state["channel"]).ledger
    caps = [cap for cap in caps_configured() if cap.applies_to(medium)]
    return "; ".join(
        f"{cap.messages} message{'s' if cap.messages != 1 else ''} in {cap.days} "
        f"day{'s' if cap.days != 1 else ''}"
        for cap in caps
    )
