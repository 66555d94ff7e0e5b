"""The campaign wizard: audience → message → options, then the campaign's preview page.

The wizard keeps its answers in the session until the last step (ui/views/wizard_options.py),
which creates the draft through campaigns.services.campaign_create (the same validation as
every other entry point).
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from campaigns.audience import AudienceSummary
from campaigns.models import AudienceMatch, Segment
from campaigns.opt_out_law import opt_out_countries, says_how_to_opt_out
from campaigns.rendering import (
    CONTACT_FIELDS,
    OPT_OUT_URL,
    PLACEHOLDER_RE,
    placeholder_syntax_problem,
    sms_segments,
)
from campaigns.segments import segment_rules_summary
from channels.base import BUTTONS, IMAGE, Button, ChannelType, Content
from channels.registry import (
    UnknownChannel,
    channel_choices,
    channel_names,
    channel_type,
    channel_types,
    reply_type,
)
from contacts.models import ContactList
from core.params import param_int
from ui.access import AuthenticatedRequest, page
from ui.selectors import (
    audience_attribute_keys,
    audience_counts,
    rendered_range,
)
from ui.views.wizard_split import split_context, split_from_post, split_specs
from whatsapp.mapping import slot_from_text
from whatsapp.mapping import template_places as mapping_places
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import template_render

SESSION_KEY = "herald_wizard"
MAX_BUTTON_ROWS = 4  # button rows on the message step (a type may take fewer)
FALLBACK_ROWS = 2  # fallback steps the options step offers (the API and CLI take three)
STEPS = [
    ("audience", "Audience"),
    ("message", "Message"),
    ("options", "Options"),
    ("preview", "Preview & test"),
    ("launch", "Launch"),
]


def _state(request: HttpRequest) -> dict[str, Any]:
    return request.session.get(SESSION_KEY) or {}


def _save(request: HttpRequest, **values: object) -> None:
    request.session[SESSION_KEY] = {**_state(request), **values}


def _ids(values: list[str]) -> list[int]:
    return sorted({n for v in values if (n := param_int(v)) is not None})


def _ctx(step: str, **extra: object) -> dict[str, Any]:
    return {"steps": STEPS, "step": step, **extra}


def _slot_text(slot: dict[str, Any]) -> str:
    """A mapping slot as the marketer typed it: `{{name}}`, `{{name|fallback}}` or text."""
    if slot.get("source") in ("field", "attribute"):
        fallback = slot.get("fallback")
        name: str = slot["value"]
        return "{{" + name + (f"|{fallback}" if fallback is not None else "") + "}}"
    return slot.get("value") or ""


def _slot(text: str) -> dict[str, Any]:
    """slot_from_text, also for `{{name|fallback}}` (the same syntax as an SMS text)."""
    match = PLACEHOLDER_RE.fullmatch(text.strip())
    if match and match.group(2) is not None:
        return slot_from_text("{{" + match.group(1) + "}}", fallback=match.group(2).strip())
    return slot_from_text(text)


def _known_placeholders(state: dict[str, Any]) -> list[str]:
    # {{opt_out_url}} is every recipient's own opt-out link (campaigns.rendering). The columns
    # are those of the audience: its lists' members and its segment's contacts.
    keys = audience_attribute_keys(
        list_ids=state.get("lists", []),
        segment_id=state.get("segment"),
        match=state.get("audience_match", AudienceMatch.ANY),
    )
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


def _segment_ids(post: QueryDict) -> tuple[int | None, int | None]:
    """The audience and exclusion segments chosen (an exclusion equal to the audience dropped)."""
    include, exclude = _segment(post.get("segment", "")), _segment(post.get("exclude_segment", ""))
    include_id = include.pk if include else None
    exclude_id = exclude.pk if exclude and exclude.pk != include_id else None
    return include_id, exclude_id


def _segment_words(segment_id: object, exclude_segment_id: object) -> dict[str, Any]:
    """The chosen segments' rules in words, shown under the live count."""
    segment, exclude = _segment(segment_id), _segment(exclude_segment_id)
    return {
        "segment_words": segment_rules_summary(segment.rules) if segment else "",
        "exclude_segment_words": segment_rules_summary(exclude.rules) if exclude else "",
    }


def _match(post: QueryDict) -> str:
    """How the chosen segment combines with the chosen lists (any: or, all: and)."""
    value = post.get("audience_match", AudienceMatch.ANY)
    return value if value in AudienceMatch.values else AudienceMatch.ANY


def _counts(
    list_ids: list[int],
    exclude_ids: list[int],
    segment_id: object,
    exclude_segment_id: object,
    match: str,
) -> AudienceSummary:
    segment = _segment(segment_id)
    # "On the lists and in the segment" needs both: with one of them it is just that one.
    if not list_ids or segment is None:
        match = AudienceMatch.ANY
    return audience_counts(
        list_ids=list_ids,
        exclude_ids=exclude_ids,
        segment=segment,
        exclude_segment=_segment(exclude_segment_id),
        match=match,
    )


@page("campaigns.add_campaign")
def audience(request: AuthenticatedRequest) -> HttpResponse:
    state = _state(request) if request.GET.get("edit") or request.method == "POST" else {}
    if request.method == "GET" and not request.GET.get("edit"):
        request.session.pop(SESSION_KEY, None)
    field_errors: dict[str, str] = {}
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        list_ids = _ids(request.POST.getlist("lists"))
        exclude_ids = [i for i in _ids(request.POST.getlist("exclude_lists")) if i not in list_ids]
        segment_id, exclude_segment_id = _segment_ids(request.POST)
        match = _match(request.POST) if list_ids and segment_id else AudienceMatch.ANY
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
            "audience_match": match,
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
            state.get("audience_match", AudienceMatch.ANY),
        ),
        **_segment_words(state.get("segment"), state.get("exclude_segment")),
    )
    status = 400 if field_errors else 200
    return render(request, "ui/wizard_audience.html", context, status=status)


@require_POST
@page("campaigns.add_campaign")
def audience_count(request: AuthenticatedRequest) -> HttpResponse:
    segment_id, exclude_segment_id = _segment_ids(request.POST)
    summary = _counts(
        _ids(request.POST.getlist("lists")),
        _ids(request.POST.getlist("exclude_lists")),
        segment_id,
        exclude_segment_id,
        _match(request.POST),
    )
    context = {"summary": summary, **_segment_words(segment_id, exclude_segment_id)}
    return render(request, "ui/_audience_count.html", context)


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
def sms_counter(request: AuthenticatedRequest) -> HttpResponse:
    """Live counter: the chosen type's own measure of the text being typed (never drifts)."""
    field = request.POST.get("counter_field", "text")
    if field == "reply":  # the inbox's reply box: no audience, so no "each recipient receives"
        text = request.POST.get("text", "")
        return render(
            request, "ui/_sms_counter.html", _counter(text, {}, request.POST.get("channel"))
        )
    counted = {"text", *(f"fallback_text_{i}" for i in range(FALLBACK_ROWS))}
    field = field if field in counted else "text"
    text = request.POST.get(field, "")
    state = _state(request)
    # A fallback step's text is counted as its channel's (the step's select, sent along).
    step = request.POST.get(field.replace("_text", "")) if field != "text" else None
    channel = step or request.POST.get("channel") or state.get("channel")
    context = _counter(text, state, channel, footer=field == "text")
    return render(request, "ui/_sms_counter.html", context)


def _counter(
    text: str, state: dict[str, Any], channel: str | None = None, *, footer: bool = True
) -> dict[str, Any]:
    """The counter's context: the text's own figures, and what recipients receive once filled.

    Types whose texts are encoded and split (SMS) get parts and encoding; the others their
    length against their limit.
    """
    try:
        kind = channel_type(channel or state.get("channel") or "")
    except UnknownChannel:
        try:  # the inbox names a medium: its reply type counts (WhatsApp text for whatsapp)
            kind = reply_type(channel or "")
        except UnknownChannel:
            kind = channel_type(channel_names()[0])
    if not text.strip():
        # Nothing typed yet (a blank fallback step, an empty reply): "0 parts" would say the
        # text costs nothing; the type's limit is what helps.
        return {"empty": True, "kind": kind, "limit": kind.max_chars(), "text": text}
    _parts, encoding = kind.measure(text)
    # Warned as the marketer types, before "Next" refuses it (issue 26 #9).
    checks: dict[str, Any] = {"syntax_problem": placeholder_syntax_problem(text)}
    cap = kind.max_chars()
    length = kind.length(text)
    if cap is not None:
        checks |= {
            "cap": cap,
            "over_cap": length - cap if length > cap else 0,
            "near_cap": cap - length if cap * 0.9 <= length <= cap else None,
        }
    if not encoding:
        return {"text": text, "kind": kind, "length": length, "limit": cap, **checks}
    # Where the law asks for opt-out wording Herald adds it to SMS (issue 26 #8): say so here,
    # as it counts toward what those recipients receive.
    checks["footer_countries"] = (
        sorted(opt_out_countries())
        if footer and kind.ledger == "sms" and not says_how_to_opt_out(text)
        else []
    )
    seg = sms_segments(text)
    list_ids, segment_id = state.get("lists", []), state.get("segment")
    filled = (
        rendered_range(
            text=text,
            list_ids=list_ids,
            segment_id=segment_id,
            match=state.get("audience_match", AudienceMatch.ANY),
        )
        if list_ids or segment_id
        else None
    )
    return {
        "seg": seg,
        "kind": kind,
        "text": text,
        "filled": filled,
        "highlighted": highlight_ucs2(text, seg.ucs2_chars),
        **checks,
    }


def template_places(
    template: WhatsAppTemplate, mapping: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
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

    header = found if isinstance(found := structure.get("header"), dict) else {}
    for place in places["header"]:
        default = "{{first_name}}" if place.kind == "header_text" else ""
        value = current("header", 0)
        fields.append(
            {
                "name": "header_0",
                "label": place.label,
                "kind": place.kind,
                "value": default if value is None else value,
                "example": header.get("example", ""),
            }
        )
    examples = (structure.get("body") or {}).get("examples") or []
    for i, place in enumerate(places["body"]):
        default = "{{first_name}}" if i == 0 else (examples[i] if i < len(examples) else "")
        value = current("body", i)
        fields.append(
            {
                "name": f"body_{i}",
                "label": place.label,
                "kind": place.kind,
                "value": default if value is None else value,
                "example": examples[i] if i < len(examples) else "",
            }
        )
    for index, place in places["buttons"].items():
        value = None
        for entry in mapping.get("buttons") or []:
            if entry.get("index") == index and entry.get("slots"):
                value = entry["slots"][0].get("value")
        fields.append(
            {
                "name": f"button_{index}",
                "label": place.label,
                "kind": place.kind,
                "value": value or "offer",
                "example": "",
            }
        )
    return fields


def mapping_from_post(template: WhatsAppTemplate, post: QueryDict) -> dict[str, Any]:
    """The mapping JSON (see whatsapp.mapping) from the wizard's per-placeholder fields."""
    places = mapping_places(template)
    mapping: dict[str, Any] = {"header": [], "body": [], "buttons": []}
    if places["header"]:
        mapping["header"] = [_slot(post.get("header_0", ""))]
    mapping["body"] = [_slot(post.get(f"body_{i}", "")) for i in range(len(places["body"]))]
    for index in places["buttons"]:
        mapping["buttons"].append(
            {"index": index, "slots": [_slot(post.get(f"button_{index}", ""))]}
        )
    return mapping


@page("campaigns.add_campaign")
def template_form(request: AuthenticatedRequest) -> HttpResponse:
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


def _mapping_refs(mapping: dict[str, Any]) -> list[tuple[str, bool]]:
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


def _unfillable(mapping: dict[str, Any], known: list[str]) -> list[str]:
    """Template values that read a column no contact of the audience has (and no fallback)."""
    names = ["{{" + k + "}}" for k in known]
    return [
        f"No contact in this audience has {ref}: use one of {', '.join(names)}, "
        f"or give a fallback like {ref[:-2]}|text}}}}."
        for ref, required in dict.fromkeys(_mapping_refs(mapping))
        if required and ref not in names
    ]


def _buttons_from_post(post: QueryDict) -> list[dict[str, Any]]:
    """The buttons typed on the message step (text and link; empty rows dropped)."""
    buttons = []
    for i in range(MAX_BUTTON_ROWS):
        text = post.get(f"button_text_{i}", "").strip()
        url = post.get(f"button_url_{i}", "").strip()
        if text or url:
            buttons.append(Button(text=text, url=url).to_dict())
    return buttons


def channel_options() -> list[dict[str, Any]]:
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


def _content_check(
    kind: ChannelType, post: QueryDict, known: list[str]
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(campaign values, field errors, template errors) of the message step for `kind`."""
    field_errors: dict[str, str] = {}
    template_errors: list[str] = []
    text = post.get("text", "")
    values: dict[str, Any] = {
        "channel": kind.name,
        "text": text,
        "template": None,
        "template_mapping": {},
        "media_url": "",
        "buttons": [],
    }
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
    content = Content(
        text=text,
        media_url=values["media_url"],
        buttons=tuple(Button.from_dict(b) for b in values["buttons"]),
    )
    problems = kind.content_problems(content)
    if not text.strip() and not values["media_url"]:
        field_errors["text"] = f"Write the {kind.medium_label} text."
    elif problems:
        field_errors["text"] = "; ".join(p[0].upper() + p[1:] for p in problems) + "."
    elif problem := placeholder_syntax_problem(text):
        field_errors["text"] = problem[0].upper() + problem[1:] + "."
    elif problem := unknown_placeholders(text, known):
        field_errors["text"] = problem
    return values, field_errors, template_errors


@page("campaigns.add_campaign")
def message(request: AuthenticatedRequest) -> HttpResponse:
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
            values: dict[str, Any] = {"channel": "", "text": request.POST.get("text", "")}
            labels = ", ".join(label for _, label in channel_choices())
            field_errors["channel"] = f"Choose a channel: {labels}."
        else:
            values, field_errors, template_errors = _content_check(kind, request.POST, known)
        values["split"] = split_from_post(request.POST)
        if channel in channel_names():
            field_errors |= _split_errors(values.get("text", ""), values["split"], known, channel)
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
        **split_context(state.get("split")),
    )
    return render(request, "ui/wizard_message.html", context, status=400 if errors else 200)


def _split_errors(
    text: str, split: dict[str, Any], known: list[str], channel: str
) -> dict[str, str]:
    """The split section's errors: the service's rules, and unknown placeholders per variant."""
    _, _, errors = split_specs(text, split, channel)
    if split.get("on"):
        for name, extra in zip(("B", "C", "D"), split.get("texts") or [], strict=False):
            if extra.strip() and (problem := unknown_placeholders(extra, known)):
                errors[f"variant_{name}"] = f"Variant {name}: {problem}"
    return errors


def fallback_options(state: dict[str, Any]) -> list[ChannelType]:
    """The types a step of the chain may be: they may follow, on another medium."""
    try:
        own = channel_type(state.get("channel") or "")
    except UnknownChannel:
        return []
    return [k for k in channel_types() if k.fallback_step and k.ledger != own.ledger]
