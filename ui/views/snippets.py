"""Saved message snippets: list, add, change, delete (issue 26 #13); the wizard's message step
and the inbox's reply box insert them (the `snippet_picker` tag)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from campaigns.models import Snippet
from campaigns.services import snippet_delete, snippet_save
from ui.access import AuthenticatedRequest, page
from ui.words import in_words


def _errors(exc: ValidationError) -> dict[str, str]:
    if hasattr(exc, "error_dict"):
        return {k: in_words("; ".join(v)) for k, v in exc.message_dict.items()}
    return {"general": in_words("; ".join(exc.messages))}


def _snippet(value: str) -> Snippet | None:
    return (
        Snippet.objects.filter(pk=int(value)).first()
        if value.isascii() and value.isdigit()
        else None
    )


@page("campaigns.view_campaign")
def snippet_list(request: AuthenticatedRequest) -> HttpResponse:
    """Every snippet, and a form to add one (or change the one asked for with ?edit=ID)."""
    editing = _snippet(request.GET.get("edit", ""))
    context: dict[str, object] = {
        "snippets": Snippet.objects.all()[:500],
        "editing": editing,
        "errors": {},
        "name": editing.name if editing else "",
        "text": editing.text if editing else "",
    }
    if request.method != "POST":
        return render(request, "ui/snippets.html", context)
    if not request.user.has_perm("campaigns.add_campaign"):
        refused = {"general": "Saving snippets needs the permission to create campaigns."}
        return render(request, "ui/snippets.html", context | {"errors": refused}, status=403)
    name, text = request.POST.get("name", "")[:200], request.POST.get("text", "")[:5000]
    editing = _snippet(request.POST.get("id", ""))
    try:
        saved = snippet_save(name=name, text=text, actor=request.user, snippet=editing)
    except ValidationError as exc:
        context |= {"errors": _errors(exc), "name": name, "text": text, "editing": editing}
        return render(request, "ui/snippets.html", context, status=400)
    messages.success(request, f"Snippet “{saved.name}” saved.")
    return redirect("ui:snippets")


@require_POST
@page("campaigns.add_campaign")
def snippet_remove(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Delete a snippet (campaigns that used its text keep it)."""
    name = snippet_delete(snippet=get_object_or_404(Snippet, pk=pk), actor=request.user)
    messages.success(request, f"Snippet “{name}” deleted.")
    return redirect("ui:snippets")
