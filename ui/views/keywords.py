"""Opt-in keywords: the words people text to join a list, and the terms they are sent back."""

from typing import Any

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render

from contacts.consent import opt_in_keyword_save
from contacts.models import ConsentChannel, ContactList, OptInKeyword
from core.params import param_int
from core.services import audit_record
from ui.access import AuthenticatedRequest, page

FIELDS = ("keyword", "number", "contact_list", "channel", "confirmation_text", "confirm_prompt")


def _form_of(keyword: OptInKeyword | None) -> dict[str, Any]:
    if keyword is None:
        return {"channel": ConsentChannel.SMS, "active": True}
    return {
        "keyword": keyword.keyword.upper(),
        "number": keyword.number,
        "contact_list": keyword.contact_list_id,
        "channel": keyword.channel,
        "confirmation_text": keyword.confirmation_text,
        "confirm_prompt": keyword.confirm_prompt,
        "double_opt_in": keyword.double_opt_in,
        "active": keyword.active,
    }


def _problems(form: dict[str, Any]) -> dict[str, str]:
    """Why the form cannot be saved, per field (the same checks the admin's form makes)."""
    problems = {}
    if not form["keyword"].strip():
        problems["keyword"] = "Give the word people text, e.g. JOIN."
    if form["contact_list"] is None:
        problems["contact_list"] = "Choose the list they join."
    if form["channel"] not in ConsentChannel.values:
        problems["channel"] = "Choose a channel."
    if not form["confirmation_text"].strip():
        problems["confirmation_text"] = (
            "Write the confirmation: brand, frequency, “Msg & data rates may apply”, STOP, HELP."
        )
    if form["double_opt_in"] and not form["confirm_prompt"].strip():
        problems["confirm_prompt"] = "Double opt-in needs the prompt that asks them to reply YES."
    return problems


def _keyword(raw: str) -> OptInKeyword | None:
    pk = param_int(raw)
    return OptInKeyword.objects.filter(pk=pk).first() if pk is not None else None


@page("contacts.change_contactlist")
def keyword_list(request: AuthenticatedRequest) -> HttpResponse:
    """GET: the keywords and a form (a new one, or ?edit=ID); POST: save it (texts versioned)."""
    editing = _keyword(request.GET.get("edit", ""))
    form, problems = _form_of(editing), {}
    if request.method == "POST":
        editing = _keyword(request.POST.get("id", ""))
        form = {name: request.POST.get(name, "").strip() for name in FIELDS}
        form["contact_list"] = param_int(request.POST.get("contact_list", ""))
        form["double_opt_in"] = request.POST.get("double_opt_in") == "on"
        form["active"] = request.POST.get("active") == "on"
        problems = _problems(form)
        contact_list = ContactList.objects.filter(pk=form["contact_list"]).first()
        if contact_list is None and "contact_list" not in problems:
            problems["contact_list"] = "That list no longer exists."
        if not problems and contact_list is not None:
            keyword = editing or OptInKeyword()
            for name in ("keyword", "number", "channel", "confirmation_text", "confirm_prompt"):
                setattr(keyword, name, form[name])
            keyword.contact_list = contact_list
            keyword.double_opt_in, keyword.active = form["double_opt_in"], form["active"]
            try:
                with transaction.atomic():
                    opt_in_keyword_save(keyword=keyword)
            except IntegrityError:
                problems["keyword"] = "This word is already a keyword on that number."
            else:
                audit_record(
                    actor=request.user,
                    action="opt-in-keyword",
                    detail=f"{keyword.keyword.upper()} → {contact_list} "
                    f"(wording v{keyword.wording_version})",
                )
                messages.success(request, f"Keyword {keyword.keyword.upper()} saved.")
                return redirect("ui:keywords")
    context = {
        "keywords": OptInKeyword.objects.select_related("contact_list").order_by("keyword"),
        "form": form,
        "problems": problems,
        "editing": editing,
        "lists": ContactList.objects.all(),
        "channels": ConsentChannel.choices,
    }
    return render(request, "ui/keywords.html", context, status=400 if problems else 200)
