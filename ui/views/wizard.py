"""The campaign wizard: audience → message → options, then the campaign's preview page.

The wizard keeps its answers in the session until the last step, which creates the draft
through campaigns.services.campaign_create (the same validation as every other entry point).
"""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from campaigns.editing import EDITABLE, campaign_update
from campaigns.models import Campaign, FailoverMode, Segment, SpeedUnit
from campaigns.rendering import CONTACT_FIELDS, OPT_OUT_URL, PLACEHOLDER_RE, sms_segments
from campaigns.services import SPEED_LIMIT_MAX, CampaignError, campaign_create
from channels.base import BUTTONS, IMAGE, Button, ChannelType, Content
from channels.registry import (
    UnknownChannel,
    channel_choices,
    channel_names,
    channel_type,
    channel_types,
)
from contacts.models import ContactList
from core.params import param_int
from ui.access import page
from ui.selectors import (
    audience_attribute_keys,
    audience_counts,
    audience_time_zones,
    rendered_range,
)
from ui.services import audit_record
from whatsapp.mapping import slot_from_text
from whatsapp.mapping import template_places as mapping_places
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import template_render

SESSION_KEY = "herald_wizard"
MAX_BUTTON_ROWS = 4  # button rows on the message step (a type may take fewer)
STEPS = [("audience", "Audience"), ("message", "Message"), ("options", "Options"),
         ("preview", "Preview & test"), ("launch", "Launch")]  # fmt: skip


def _state(request) -> dict:
    return request.session.get(SESSION_KEY) or {}


def _save(request, **values) -> None:
    request.session[SESSION_KEY] = {**_state(request), **values}


def _ids(values: list[str]) -> list[int]:
    return sorted({n for v in values if (n := param_int(v)) is not None})


def _ctx(step: str, **extra) -> dict:
    return {"steps": STEPS, "step": step, **extra}


def _local_input(value: dt.datetime | None) -> str:
    """A datetime as a datetime-local input value, in the current time zone."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M") if value else ""


def _slot_text(slot: dict) -> str:
    """A mapping slot as the marketer typed it: `{{name}}`, `{{name|fallback}}` or text."""
    if slot.get("source") in ("field", "attribute"):
        fallback = slot.get("fallback")
        return "{{" + slot["value"] + (f"|{fallback}" if fallback is not None else "") + "}}"
    return slot.get("value") or ""


def _slot(text: str) -> dict:
    """slot_from_text, also for `{{name|fallback}}` (the same syntax as an SMS text)."""
    match = PLACEHOLDER_RE.fullmatch(text.strip())
    if match and match.group(2) is not None:
        return slot_from_text("{{" + match.group(1) + "}}", fallback=match.group(2).strip())
    return slot_from_text(text)


def campaign_state(campaign: Campaign) -> dict:
    """The wizard's answers for an existing campaign: every step shows what was saved."""
    options = {
        "send_mode": "later" if campaign.send_at else "now",
        "send_at": _local_input(campaign.send_at),
        "speed_limit": str(campaign.speed_limit or ""),
        "speed_unit": campaign.speed_unit,
        "quiet_start": campaign.quiet_hours_start.strftime("%H:%M")
        if campaign.quiet_hours_start
        else "",
        "quiet_end": campaign.quiet_hours_end.strftime("%H:%M") if campaign.quiet_hours_end else "",
        "failover_mode": campaign.failover_mode,
        "failover_text": campaign.failover_text,
    }
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


def _known_placeholders(state: dict) -> list[str]:
    # {{opt_out_url}} is every recipient's own opt-out link (campaigns.rendering). The columns
    # are those of the audience: its lists' members and its segment's contacts.
    keys = audience_attribute_keys(list_ids=state.get("lists", []), segment_id=state.get("segment"))
    return [*CONTACT_FIELDS, OPT_OUT_URL, *keys]


def unknown_placeholders(text: str, known: list[str]) -> str | None:
    """The error for placeholders no contact field or column provides (None when all known)."""
    unknown = [m.group(1) for m in PLACEHOLDER_RE.finditer(text) if m.group(1) not in known]
    if not unknown:
        return None
    names = ", ".join("{{" + n + "}}" for n in dict.fromkeys(unknown))
    return f"Unknown placeholder {names}. Known: " + ", ".join(known) + "."


def _segment(value: object) -> Segment | None:
    """The segment an id names (None for none, a bad id or one deleted since)."""
    pk = param_int(value) if isinstance(value, str) else value
    return Segment.objects.filter(pk=pk).first() if isinstance(pk, int) and pk > 0 else None


def _segment_ids(post) -> tuple[int | None, int | None]:
    """The audience and exclusion segments chosen (an exclusion equal to the audience dropped)."""
    include, exclude = _segment(post.get("segment", "")), _segment(post.get("exclude_segment", ""))
    include_id = include.pk if include else None
    exclude_id = exclude.pk if exclude and exclude.pk != include_id else None
    return include_id, exclude_id


def _counts(list_ids: list[int], exclude_ids: list[int], segment_id, exclude_segment_id):
    return audience_counts(
        list_ids=list_ids,
        exclude_ids=exclude_ids,
        segment=_segment(segment_id),
        exclude_segment=_segment(exclude_segment_id),
    )


@page("campaigns.add_campaign")
def audience(request):
    state = _state(request) if request.GET.get("edit") or request.method == "POST" else {}
    if request.method == "GET" and not request.GET.get("edit"):
        request.session.pop(SESSION_KEY, None)
    field_errors: dict[str, str] = {}
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        list_ids = _ids(request.POST.getlist("lists"))
        exclude_ids = [i for i in _ids(request.POST.getlist("exclude_lists")) if i not in list_ids]
        segment_id, exclude_segment_id = _segment_ids(request.POST)
        if not name:
            field_errors["name"] = "Give the campaign a name."
        elif len(name) > 200:
            field_errors["name"] = f"The name is {len(name)} characters; the limit is 200."
        if not list_ids and segment_id is None:
            field_errors["lists"] = "Choose at least one list or a segment to send to."
        state = {
            **state,
            "name": name,
            "lists": list_ids,
            "exclude_lists": exclude_ids,
            "segment": segment_id,
            "exclude_segment": exclude_segment_id,
        }
        _save(request, **state)
        if not field_errors:
            return redirect("ui:wizard_message")
    context = _ctx(
        "audience",
        state=state,
        lists=ContactList.objects.all(),
        segments=Segment.objects.all(),
        errors=list(field_errors.values()),
        field_errors=field_errors,
        summary=_counts(
            state.get("lists", []),
            state.get("exclude_lists", []),
            state.get("segment"),
            state.get("exclude_segment"),
        ),
    )
    status = 400 if field_errors else 200
    return render(request, "ui/wizard_audience.html", context, status=status)


@require_POST
@page("campaigns.add_campaign")
def audience_count(request):
    segment_id, exclude_segment_id = _segment_ids(request.POST)
    summary = _counts(
        _ids(request.POST.getlist("lists")),
        _ids(request.POST.getlist("exclude_lists")),
        segment_id,
        exclude_segment_id,
    )
    return render(request, "ui/_audience_count.html", {"summary": summary})


def highlight_ucs2(text: str, chars: tuple[str, ...]) -> str:
    """The text, HTML-escaped, with every character that forces UCS-2 in a <mark>."""
    forcing = set(chars)
    return format_html_join(
        "",
        "{}",
        (
            (format_html('<mark title="forces UCS-2">{}</mark>', c) if c in forcing else c,)
            for c in text
        ),
    )


@require_POST
@page("campaigns.add_campaign")
def sms_counter(request):
    """Live counter: the chosen type's own measure of the text being typed (never drifts)."""
    field = request.POST.get("counter_field", "text")
    if field == "reply":  # the inbox's reply box: no audience, so no "each recipient receives"
        return render(request, "ui/_sms_counter.html", _counter(request.POST.get("text", ""), {}))
    text = request.POST.get(field if field in ("text", "failover_text") else "text", "")
    state = _state(request)
    channel = request.POST.get("channel") or (
        _fallback_channel(state) if field == "failover_text" else state.get("channel")
    )
    return render(request, "ui/_sms_counter.html", _counter(text, state, channel))


def _counter(text: str, state: dict, channel: str | None = None) -> dict:
    """The counter's context: the text's own figures, and what recipients receive once filled.

    Types whose texts are encoded and split (SMS) get parts and encoding; the others their
    length against their limit.
    """
    try:
        kind = channel_type(channel or state.get("channel") or "")
    except UnknownChannel:
        kind = channel_type(channel_names()[0])
    _parts, encoding = kind.measure(text)
    if not encoding:
        cap = kind.max_chars()
        return {"text": text, "kind": kind, "length": kind.length(text), "limit": cap}
    seg = sms_segments(text)
    list_ids, segment_id = state.get("lists", []), state.get("segment")
    filled = (
        rendered_range(text=text, list_ids=list_ids, segment_id=segment_id)
        if list_ids or segment_id
        else None
    )
    return {
        "seg": seg,
        "kind": kind,
        "text": text,
        "filled": filled,
        "highlighted": highlight_ucs2(text, seg.ucs2_chars),
    }


def template_places(template: WhatsAppTemplate, mapping: dict | None = None) -> list[dict]:
    """The template's value places as form fields, prefilled from `mapping` or examples."""
    structure = template.structure or {}
    places = mapping_places(template)
    mapping = mapping or {}
    fields = []

    def current(part: str, i: int) -> str | None:
        slots = mapping.get(part) or []
        if i < len(slots) and isinstance(slots[i], dict):
            return _slot_text(slots[i])
        return None

    header = structure.get("header") if isinstance(structure.get("header"), dict) else {}
    for place in places["header"]:
        default = "{{first_name}}" if place.kind == "header_text" else ""
        value = current("header", 0)
        fields.append({"name": "header_0", "label": place.label, "kind": place.kind,
                       "value": default if value is None else value,
                       "example": header.get("example", "")})  # fmt: skip
    examples = (structure.get("body") or {}).get("examples") or []
    for i, place in enumerate(places["body"]):
        default = "{{first_name}}" if i == 0 else (examples[i] if i < len(examples) else "")
        value = current("body", i)
        fields.append({"name": f"body_{i}", "label": place.label, "kind": place.kind,
                       "value": default if value is None else value,
                       "example": examples[i] if i < len(examples) else ""})  # fmt: skip
    for index, place in places["buttons"].items():
        value = None
        for entry in mapping.get("buttons") or []:
            if entry.get("index") == index and entry.get("slots"):
                value = entry["slots"][0].get("value")
        fields.append({"name": f"button_{index}", "label": place.label, "kind": place.kind,
                       "value": value or "offer", "example": ""})  # fmt: skip
    return fields


def mapping_from_post(template: WhatsAppTemplate, post) -> dict:
    """The mapping JSON (see whatsapp.mapping) from the wizard's per-placeholder fields."""
    places = mapping_places(template)
    mapping: dict = {"header": [], "body": [], "buttons": []}
    if places["header"]:
        mapping["header"] = [_slot(post.get("header_0", ""))]
    mapping["body"] = [_slot(post.get(f"body_{i}", "")) for i in range(len(places["body"]))]
    for index in places["buttons"]:
        mapping["buttons"].append(
            {"index": index, "slots": [_slot(post.get(f"button_{index}", ""))]}
        )
    return mapping


@page("campaigns.add_campaign")
def template_form(request):
    """Fragment: the placeholder mapping form of the chosen template, with its preview."""
    template_id = param_int(request.GET.get("template")) or 0
    template = WhatsAppTemplate.objects.filter(pk=template_id).first()
    state = _state(request)
    mapping = (
        state.get("template_mapping")
        if state.get("template") == getattr(template, "pk", None)
        else None
    )
    context = {
        "template": template,
        "fields": template_places(template, mapping) if template else [],
        "rendered": template_render(template=template, values=None) if template else "",
    }
    return render(request, "ui/_template_form.html", context)


def _mapping_refs(mapping: dict) -> list[tuple[str, bool]]:
    """The placeholders a template mapping reads, each with whether it is required."""
    slots = [*(mapping.get("header") or []), *(mapping.get("body") or [])]
    for entry in mapping.get("buttons") or []:
        slots += entry.get("slots") or []
    refs: list[tuple[str, bool]] = []
    for slot in slots:
        if slot.get("source") in ("field", "attribute"):
            refs.append(("{{" + slot["value"] + "}}", slot.get("fallback") is None))
        elif slot.get("source") == "text":
            refs += [
                ("{{" + m.group(1) + "}}", m.group(2) is None)
                for m in PLACEHOLDER_RE.finditer(slot.get("value") or "")
            ]
    return refs


def _unfillable(mapping: dict, known: list[str]) -> list[str]:
    """Template values that read a column no contact of the audience has (and no fallback)."""
    names = ["{{" + k + "}}" for k in known]
    return [
        f"No contact in this audience has {ref}: use one of {', '.join(names)}, "
        f"or give a fallback like {ref[:-2]}|text}}}}."
        for ref, required in dict.fromkeys(_mapping_refs(mapping))
        if required and ref not in names
    ]


def _buttons_from_post(post) -> list[dict]:
    """The buttons typed on the message step (text and link; empty rows dropped)."""
    buttons = []
    for i in range(MAX_BUTTON_ROWS):
        text = post.get(f"button_text_{i}", "").strip()
        url = post.get(f"button_url_{i}", "").strip()
        if text or url:
            buttons.append(Button(text=text, url=url).to_dict())
    return buttons


def channel_options() -> list[dict]:
    """The wizard's channel choices, from the registry: each type and what it can carry."""
    return [
        {
            "name": kind.name,
            "label": kind.label,
            "panel": "template" if kind.uses_template else "text",
            "image": IMAGE in kind.content_kinds,
            "buttons": kind.max_buttons if BUTTONS in kind.content_kinds else 0,
            "max_chars": kind.max_chars(),
        }
        for kind in channel_types()
    ]


def _content_check(kind: ChannelType, post, known: list[str]) -> tuple[dict, dict, list[str]]:
    """(campaign values, field errors, template errors) of the message step for `kind`."""
    field_errors: dict[str, str] = {}
    template_errors: list[str] = []
    text = post.get("text", "")
    values: dict = {"channel": kind.name, "text": text, "template": None,
                    "template_mapping": {}, "media_url": "", "buttons": []}  # fmt: skip
    if kind.uses_template:
        template = WhatsAppTemplate.objects.filter(pk=param_int(post.get("template")) or 0).first()
        if template is None:
            field_errors["template"] = f"Choose a {kind.label}."
            return values, field_errors, template_errors
        mapping = mapping_from_post(template, post)
        values |= {"template": template.pk, "template_mapping": mapping}
        template_errors += kind.template_problems(Content(template=template, mapping=mapping))
        template_errors += _unfillable(mapping, known)
        if reason := template.unsendable_reason:
            template_errors.append(reason)
        return values, field_errors, template_errors
    if IMAGE in kind.content_kinds:
        values["media_url"] = post.get("media_url", "").strip()
    if BUTTONS in kind.content_kinds:
        values["buttons"] = _buttons_from_post(post)
    content = Content(text=text, media_url=values["media_url"],
                      buttons=tuple(Button.from_dict(b) for b in values["buttons"]))  # fmt: skip
    problems = kind.content_problems(content)
    if not text.strip() and not values["media_url"]:
        field_errors["text"] = f"Write the {kind.medium_label} text."
    elif problems:
        field_errors["text"] = "; ".join(p[0].upper() + p[1:] for p in problems) + "."
    elif problem := unknown_placeholders(text, known):
        field_errors["text"] = problem
    return values, field_errors, template_errors


@page("campaigns.add_campaign")
def message(request):
    state = _state(request)
    if not state.get("lists") and not state.get("segment"):
        return redirect("ui:wizard_audience")
    field_errors: dict[str, str] = {}
    template_errors: list[str] = []
    template = None
    known = _known_placeholders(state)
    if request.method == "POST":
        channel = request.POST.get("channel", "")
        try:
            kind = channel_type(channel)
        except UnknownChannel:
            values = {"channel": "", "text": request.POST.get("text", "")}
            labels = ", ".join(label for _, label in channel_choices())
            field_errors["channel"] = f"Choose a channel: {labels}."
        else:
            values, field_errors, template_errors = _content_check(kind, request.POST, known)
        state = {**state, **values}
        _save(request, **values)
        if request.POST.get("nav") == "back":
            # Back keeps what was typed, valid or not: the step is checked again on Next.
            return redirect(f"{reverse('ui:wizard_audience')}?edit=1")
        if not field_errors and not template_errors:
            return redirect("ui:wizard_options")
    if state.get("template"):
        template = WhatsAppTemplate.objects.filter(pk=state["template"]).first()
    errors = [*field_errors.values(), *template_errors]
    buttons = list(state.get("buttons") or [])
    context = _ctx(
        "message",
        state=state,
        errors=errors,
        field_errors=field_errors,
        template_errors=template_errors,
        channels=channel_options(),
        current_channel=state.get("channel") or channel_names()[0],
        button_rows=[buttons[i] if i < len(buttons) else {} for i in range(MAX_BUTTON_ROWS)],
        fields=list(CONTACT_FIELDS),
        attributes=[k for k in known if k not in CONTACT_FIELDS],
        templates=WhatsAppTemplate.objects.filter(removed_upstream_at__isnull=True),
        template=template,
        template_fields=template_places(template, state.get("template_mapping"))
        if template
        else [],
        template_rendered=template_render(template=template, values=None) if template else "",
        **_counter(state.get("text", ""), state),
    )
    return render(request, "ui/wizard_message.html", context, status=400 if errors else 200)


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


def _fallback_channel(state: dict) -> str | None:
    """The fallback step the options offer: a type that may follow the campaign's own, on
    another medium (the first such in the registry), or None."""
    try:
        own = channel_type(state.get("channel") or "")
    except UnknownChannel:
        return None
    for kind in channel_types():
        if kind.fallback_step and kind.ledger != own.ledger:
            return kind.name
    return None


def _options_defaults(fallback: str | None) -> dict:
    return {"send_mode": "now", "speed_unit": SpeedUnit.MINUTE,
            "failover_mode": FailoverMode.HERALD if fallback else FailoverMode.NONE}  # fmt: skip


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
    quiet = (_parse_time(form.get("quiet_start", "")), _parse_time(form.get("quiet_end", "")))
    if (quiet[0] is None) != (quiet[1] is None):
        field_errors["quiet_hours"] = "Give both ends of the quiet hours, or neither."
    failover_mode = form.get("failover_mode", FailoverMode.NONE) if fallback else "none"
    if failover_mode not in FailoverMode.values:
        field_errors["failover_mode"] = "Choose how the fallback works."
    failover_text = form.get("failover_text", "") if fallback else ""
    if fallback and failover_mode != FailoverMode.NONE and failover_text.strip():
        if problem := channel_type(fallback).cap_check(failover_text):
            field_errors["failover_text"] = problem[0].upper() + problem[1:] + "."
        elif problem := unknown_placeholders(failover_text, _known_placeholders(state)):
            field_errors["failover_text"] = problem
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
    fallback = _fallback_channel(state)
    field_errors: dict[str, str] = {}
    errors: list[str] = []
    form = state.get("options") or _options_defaults(fallback)
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
                    campaign = campaign_update(campaign=target, **fields)
                else:
                    campaign = campaign_create(created_by=request.user, **fields)
            except ValidationError as exc:
                errors += exc.messages
            except CampaignError as exc:
                errors.append(str(exc))
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
        own=channel_type(state["channel"]),
        failover_modes=FailoverMode.choices,
        speed_units=SpeedUnit.choices,
        speed_limit_max=SPEED_LIMIT_MAX,
        time_zone=timezone.get_current_timezone_name(),
        server_zone=settings.TIME_ZONE,
        fields=list(CONTACT_FIELDS),
        **_counter(form.get("failover_text", ""), state, fallback),
    )
    status = 400 if context["errors"] else 200
    return render(request, "ui/wizard_options.html", context, status=status)
