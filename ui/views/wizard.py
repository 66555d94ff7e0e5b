"""The campaign wizard: audience → message → options, then the campaign's preview page.

The wizard keeps its answers in the session until the last step, which creates the draft
through campaigns.services.campaign_create (the same validation as every other entry point).
"""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from campaigns.models import Channel, FailoverMode, SpeedUnit
from campaigns.rendering import CONTACT_FIELDS, sms_segments
from campaigns.services import SPEED_LIMIT_MAX, campaign_create
from contacts.models import Contact, ContactList, ListMembership
from core.params import param_int
from ui.access import page
from ui.selectors import audience_counts
from ui.services import audit_record
from whatsapp.mapping import mapping_validate, slot_from_text
from whatsapp.mapping import template_places as mapping_places
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import template_render

SESSION_KEY = "herald_wizard"
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


@page("campaigns.add_campaign")
def audience(request):
    state = _state(request) if request.GET.get("edit") or request.method == "POST" else {}
    if request.method == "GET" and not request.GET.get("edit"):
        request.session.pop(SESSION_KEY, None)
    errors: list[str] = []
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        list_ids = _ids(request.POST.getlist("lists"))
        exclude_ids = [i for i in _ids(request.POST.getlist("exclude_lists")) if i not in list_ids]
        if not name:
            errors.append("Give the campaign a name.")
        if not list_ids:
            errors.append("Choose at least one list to send to.")
        state = {**state, "name": name, "lists": list_ids, "exclude_lists": exclude_ids}
        if not errors:
            _save(request, **state)
            return redirect("ui:wizard_message")
    context = _ctx(
        "audience",
        state=state,
        lists=ContactList.objects.all(),
        errors=errors,
        summary=audience_counts(
            list_ids=state.get("lists", []), exclude_ids=state.get("exclude_lists", [])
        ),
    )
    return render(request, "ui/wizard_audience.html", context, status=400 if errors else 200)


@require_POST
@page("campaigns.add_campaign")
def audience_count(request):
    summary = audience_counts(
        list_ids=_ids(request.POST.getlist("lists")),
        exclude_ids=_ids(request.POST.getlist("exclude_lists")),
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
    """Live counter: campaigns.rendering.sms_segments on the text being typed (never drifts)."""
    field = request.POST.get("counter_field", "text")
    text = request.POST.get(field if field in ("text", "failover_text") else "text", "")
    seg = sms_segments(text)
    context = {"seg": seg, "text": text, "highlighted": highlight_ucs2(text, seg.ucs2_chars)}
    return render(request, "ui/_sms_counter.html", context)


def _attribute_keys(list_ids: list[int], sample: int = 500) -> list[str]:
    members = ListMembership.objects.filter(contact_list_id__in=list_ids).values("contact_id")
    keys: set[str] = set()
    for attributes in Contact.objects.filter(id__in=members).values_list("attributes", flat=True)[
        :sample
    ]:
        keys.update(attributes or {})
    return sorted(keys - set(CONTACT_FIELDS))


def template_places(template: WhatsAppTemplate, mapping: dict | None = None) -> list[dict]:
    """The template's value places as form fields, prefilled from `mapping` or examples."""
    structure = template.structure or {}
    places = mapping_places(template)
    mapping = mapping or {}
    fields = []

    def current(part: str, i: int) -> str | None:
        slots = mapping.get(part) or []
        if i < len(slots) and isinstance(slots[i], dict):
            slot = slots[i]
            return (
                "{{" + slot["value"] + "}}"
                if slot.get("source") in ("field", "attribute")
                else (slot.get("value") or "")
            )
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
        mapping["header"] = [slot_from_text(post.get("header_0", ""))]
    mapping["body"] = [
        slot_from_text(post.get(f"body_{i}", "")) for i in range(len(places["body"]))
    ]
    for index in places["buttons"]:
        mapping["buttons"].append(
            {"index": index, "slots": [slot_from_text(post.get(f"button_{index}", ""))]}
        )
    return mapping


@page("campaigns.add_campaign")
def template_form(request):
    """Fragment: the placeholder mapping form of the chosen template, with its preview."""
    template = WhatsAppTemplate.objects.filter(pk=request.GET.get("template") or 0).first()
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


@page("campaigns.add_campaign")
def message(request):
    state = _state(request)
    if not state.get("lists"):
        return redirect("ui:wizard_audience")
    errors: list[str] = []
    template = None
    if request.method == "POST":
        channel = request.POST.get("channel", Channel.SMS)
        text = request.POST.get("text", "")
        values = {"channel": channel, "text": text, "template": None, "template_mapping": {}}
        if channel == Channel.SMS:
            if not text.strip():
                errors.append("Write the SMS text.")
        elif channel == Channel.WHATSAPP_TEMPLATE:
            template = WhatsAppTemplate.objects.filter(pk=request.POST.get("template") or 0).first()
            if template is None:
                errors.append("Choose a WhatsApp template.")
            else:
                mapping = mapping_from_post(template, request.POST)
                values |= {"template": template.pk, "template_mapping": mapping}
                errors += mapping_validate(template=template, mapping=mapping)
                if reason := template.unsendable_reason:
                    errors.append(reason)
        else:
            errors.append("Choose SMS or a WhatsApp template.")
        state = {**state, **values}
        _save(request, **values)
        if not errors:
            return redirect("ui:wizard_options")
    if state.get("template"):
        template = WhatsAppTemplate.objects.filter(pk=state["template"]).first()
    context = _ctx(
        "message",
        state=state,
        errors=errors,
        fields=list(CONTACT_FIELDS),
        attributes=_attribute_keys(state.get("lists", [])),
        templates=WhatsAppTemplate.objects.filter(removed_upstream_at__isnull=True),
        template=template,
        template_fields=template_places(template, state.get("template_mapping"))
        if template
        else [],
        template_rendered=template_render(template=template, values=None) if template else "",
        seg=sms_segments(state.get("text", "")),
    )
    return render(request, "ui/wizard_message.html", context, status=400 if errors else 200)


def _parse_time(value: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(value) if value else None
    except ValueError:
        return None


@page("campaigns.add_campaign")
def options(request):
    state = _state(request)
    if not state.get("channel"):
        return redirect("ui:wizard_message")
    whatsapp = state["channel"] != Channel.SMS
    errors: list[str] = []
    form = {"send_mode": "now", "speed_unit": SpeedUnit.MINUTE,
            "failover_mode": FailoverMode.HERALD if whatsapp else FailoverMode.NONE}  # fmt: skip
    if request.method == "POST":
        form = request.POST.dict()
        send_at = None
        if form.get("send_mode") == "later":
            try:
                send_at = timezone.make_aware(dt.datetime.fromisoformat(form.get("send_at", "")))
            except ValueError:
                errors.append("Give the date and time to send at.")
            else:
                if send_at <= timezone.now():
                    errors.append("The send time is in the past.")
        speed = form.get("speed_limit", "").strip()
        if speed and param_int(speed, minimum=1, maximum=SPEED_LIMIT_MAX) is None:
            errors.append(f"The speed limit must be a whole number from 1 to {SPEED_LIMIT_MAX:,}.")
        quiet = (_parse_time(form.get("quiet_start", "")), _parse_time(form.get("quiet_end", "")))
        if (quiet[0] is None) != (quiet[1] is None):
            errors.append("Give both ends of the quiet hours, or neither.")
        failover_mode = form.get("failover_mode", FailoverMode.NONE) if whatsapp else "none"
        if not errors:
            lists = ContactList.objects.filter(pk__in=state["lists"])
            excluded = ContactList.objects.filter(pk__in=state.get("exclude_lists", []))
            template = WhatsAppTemplate.objects.filter(pk=state.get("template") or 0).first()
            try:
                campaign = campaign_create(
                    name=state["name"],
                    channel=state["channel"],
                    lists=lists,
                    exclude_lists=excluded,
                    text=state.get("text", "") if state["channel"] == Channel.SMS else "",
                    template=template,
                    template_mapping=state.get("template_mapping") or {},
                    failover_mode=failover_mode,
                    failover_text=form.get("failover_text", "") if whatsapp else "",
                    send_at=send_at,
                    speed_limit=param_int(speed) if speed else None,
                    speed_unit=form.get("speed_unit", SpeedUnit.MINUTE),
                    quiet_hours=quiet if quiet[0] is not None else None,
                    created_by=request.user,
                )
            except ValidationError as exc:
                errors += exc.messages
            else:
                request.session.pop(SESSION_KEY, None)
                audit_record(actor=request.user, action="create", campaign=campaign)
                messages.success(request, "Draft saved. Check the preview and send a test.")
                return redirect("ui:campaign_preview", pk=campaign.pk)
    context = _ctx(
        "options",
        state=state,
        form=form,
        errors=errors,
        whatsapp=whatsapp,
        failover_modes=FailoverMode.choices,
        speed_units=SpeedUnit.choices,
        seg=sms_segments(form.get("failover_text", "")),
        fields=list(CONTACT_FIELDS),
    )
    return render(request, "ui/wizard_options.html", context, status=400 if errors else 200)
