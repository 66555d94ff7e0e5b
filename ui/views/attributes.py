"""Contact attributes and their types: declare a key a number, date or yes/no (issue 26)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from contacts.attributes import KEY_RE, AttributeType
from contacts.models import AttributeDefinition
from contacts.services import attribute_define, attribute_undefine, attribute_usage
from ui.access import AuthenticatedRequest, page
from ui.selectors import attribute_keys_known


@page("contacts.view_attributedefinition")
def attribute_list(request: AuthenticatedRequest) -> HttpResponse:
    """Every attribute key in use or declared, with its type; values counted one by one (htmx)."""
    declared = {d.key: d for d in AttributeDefinition.objects.all()}
    rows = [
        {
            "key": key,
            "type": kind,
            "declared": key in declared,
            "label": declared[key].label if key in declared else "",
        }
        for key, kind in sorted(attribute_keys_known().items())
    ]
    context = {"rows": rows, "types": AttributeType.choices, "problems": {}}
    return render(request, "ui/attributes.html", context)


@require_POST
@page("contacts.view_attributedefinition")
def attribute_save(request: AuthenticatedRequest) -> HttpResponse:
    """Declare (or re-declare, or forget) one key's type."""
    if not request.user.has_perm("contacts.change_attributedefinition"):
        raise PermissionDenied
    key = request.POST.get("key", "").strip()[:64]
    if request.POST.get("action") == "forget":
        if attribute_undefine(key=key, actor=request.user):
            messages.success(request, f"“{key}” is text again.")
        return redirect("ui:attributes")
    try:
        definition = attribute_define(
            key=key,
            kind=request.POST.get("type", ""),
            label=request.POST.get("label", "")[:200],
            actor=request.user,
        )
    except ValidationError as exc:
        messages.error(request, f"“{key}” was not saved: {' '.join(exc.messages)}")
        return redirect("ui:attributes")
    usage = attribute_usage(key=definition.key, kind=definition.type)
    note = ""
    if usage.not_of_type:
        shown = ", ".join(f"“{v}”" for v in usage.examples[:3])
        note = (
            f" {usage.not_of_type:,} of {usage.with_value:,} stored values are not a "
            f"{definition.get_type_display().lower()} ({shown}…): rules on “{key}” never match "
            "them until they are corrected (import them again with the type)."
        )
    messages.success(request, f"“{key}” is now a {definition.get_type_display().lower()}.{note}")
    return redirect("ui:attributes")


@page("contacts.view_attributedefinition")
def attribute_usage_fragment(request: AuthenticatedRequest, key: str) -> HttpResponse:
    """How many contacts have the key, and how many values are not of its type."""
    if not KEY_RE.match(key):
        return render(request, "ui/_attribute_usage.html", {"usage": None})
    kind = AttributeDefinition.objects.filter(key=key).values_list("type", flat=True).first()
    usage = attribute_usage(key=key, kind=kind or AttributeType.TEXT)
    return render(request, "ui/_attribute_usage.html", {"usage": usage})
