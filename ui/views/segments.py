"""Segments: the list with live counts, and the builder (typed rules, AND/OR, live count, sample).

The builder is one form (ui/segment_form.py). Its buttons (add a rule, add a group, remove)
post the form back and the page comes back with the change; with htmx only the builder part
is swapped. Every change also posts it to the preview, which counts and samples the rules as
they stand (campaigns.segments.segment_preview) or says what is still missing, by row. Saving
goes through segment_save, which checks the rules and the permission and audits it.
"""

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from campaigns.models import Segment
from campaigns.segment_rules import rule_keys
from campaigns.segments import (
    SegmentError,
    segment_count,
    segment_delete,
    segment_preview,
    segment_rules_normalize,
    segment_rules_problems,
    segment_rules_summary,
    segment_save,
)
from channels.registry import medium_choices
from contacts.attributes import AttributeType
from contacts.models import ContactList
from core.rules import Refused
from ui.access import AuthenticatedRequest, page
from ui.segment_form import (
    Choices,
    apply_action,
    event_options,
    field_options,
    problems_by_path,
    rows_from_rules,
    rules_from_form,
)
from ui.selectors import attribute_keys_known

EMPTY = {"match": "all", "rules": [{"field": ""}]}


@page("campaigns.view_segment")
def segment_list(request: AuthenticatedRequest) -> HttpResponse:
    """Every segment with its rules in words; the counts load one by one (htmx)."""
    segments = [(s, segment_rules_summary(s.rules)) for s in Segment.objects.all()]
    return render(request, "ui/segments.html", {"segments": segments})


@page("campaigns.view_segment")
def segment_count_fragment(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """How many contacts the segment selects now."""
    segment = get_object_or_404(Segment, pk=pk)
    try:
        context: dict[str, Any] = {"count": segment_count(segment=segment)}
    except SegmentError as exc:
        context = {"error": f"cannot count: {exc}"}
    return render(request, "ui/_segment_count.html", context)


def _choices() -> Choices:
    media = medium_choices()  # the channel registry's ledger channels, with their labels
    return Choices(
        attributes=attribute_keys_known(),
        lists=list(ContactList.objects.values_list("name", flat=True)),
        channels=media,
        consent_channels=media,
    )


def _context(
    segment: Segment | None,
    form: dict[str, Any],
    rules: dict[str, Any],
    problems: dict[str, Any],
    choices: Choices,
) -> dict[str, Any]:
    return {
        "segment": segment,
        "form": form,
        "rules": rules,
        "rows": rows_from_rules(rules, choices, problems),
        "choices": choices,
        "field_options": field_options(choices),
        "event_options": event_options(),
        "types": AttributeType.choices,
        "name_problem": problems.get("name", ""),
        "top_problem": problems.get("", ""),
    }


@page("campaigns.add_segment")
def segment_edit(request: AuthenticatedRequest, pk: int | None = None) -> HttpResponse:
    """The builder: a new segment, or segment `pk` to change."""
    segment = get_object_or_404(Segment, pk=pk) if pk is not None else None
    if segment is not None and not request.user.has_perm("campaigns.change_segment"):
        return redirect("ui:segments")
    choices = _choices()
    if request.method != "POST":
        rules = segment.rules if segment else EMPTY
        form = {
            "name": segment.name if segment else "",
            "description": segment.description if segment else "",
        }
        return render(
            request, "ui/segment_builder.html", _context(segment, form, rules, {}, choices)
        )
    form = {
        "name": request.POST.get("name", "")[:300],
        "description": request.POST.get("description", "")[:2000],
    }
    rules = rules_from_form(request.POST, choices)
    action = request.POST.get("action", "save")
    problems: dict[str, str] = {}
    if action == "save":
        try:
            saved = segment_save(
                name=form["name"],
                rules=rules,
                description=form["description"],
                segment=segment,
                actor=request.user,
            )
        except Refused as exc:
            messages.error(request, str(exc))
            return redirect("ui:segments")
        except SegmentError as exc:
            if exc.field == "name":
                problems["name"] = str(exc)[0].upper() + str(exc)[1:] + "."
            problems |= problems_by_path(segment_rules_problems(rules))
            problems.setdefault("", "" if problems else str(exc))
        else:
            messages.success(request, f"Segment “{saved.name}” saved.")
            return redirect("ui:segments")
    else:
        rules = apply_action(rules, action)
    context = _context(segment, form, rules, problems, choices)
    if request.headers.get("HX-Request") and action != "save":
        return render(request, "ui/_segment_builder.html", context)
    return render(request, "ui/segment_builder.html", context, status=400 if problems else 200)


@require_POST
@page("campaigns.view_segment")
def segment_builder_preview(request: AuthenticatedRequest) -> HttpResponse:
    """The live count and sample of the rules being built (or what they still need)."""
    choices = _choices()
    rules = segment_rules_normalize(rules_from_form(request.POST, choices))
    problems = segment_rules_problems(rules)
    context: dict[str, Any] = {"problems": [], "preview": None}
    if problems:
        context["problems"] = sorted(set(problems_by_path(problems).values()))
    else:
        context["preview"] = segment_preview(rules=rules)
        context["in_words"] = segment_rules_summary(rules)
        keys = sorted(rule_keys(rules))
        context["keys"] = keys
        context["sample"] = [
            (contact, [(k, contact.attributes.get(k, "")) for k in keys])
            for contact in context["preview"].sample
        ]
    return render(request, "ui/_segment_preview.html", context)


@require_POST
@page("campaigns.delete_segment")
def segment_remove(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Delete a segment no campaign uses."""
    segment = get_object_or_404(Segment, pk=pk)
    try:
        name = segment_delete(segment=segment, actor=request.user)
    except (SegmentError, Refused) as exc:
        messages.error(request, f"“{segment.name}” was not deleted: {exc}.")
        return redirect("ui:segment", pk=pk)
    messages.success(request, f"Segment “{name}” deleted.")
    return redirect("ui:segments")
