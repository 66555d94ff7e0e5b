"""Contacts and lists edited in the browser: add, edit, delete, bulk actions, list detail.

Thin over contacts.services; a refused form keeps what was typed and shows each problem next to
its field.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from contacts.models import ConsentSource, Contact, ContactList
from contacts.services import (
    contact_create,
    contact_delete,
    contact_list_add,
    contact_list_delete,
    contact_list_remove,
    contact_list_rename,
    contact_update,
    contacts_opt_out,
)
from core.params import param_int
from ui.access import AuthenticatedRequest, page
from ui.services import audit_record
from ui.views.contacts import contacts_filtered
from ui.words import in_words

FORM_FIELDS = ("phone", "first_name", "last_name", "language", "timezone", "default_region")
MEMBERS_PAGE = 50


def _problems(exc: ValidationError) -> dict[str, str]:
    if hasattr(exc, "error_dict"):
        return {
            k: "; ".join(v.messages if hasattr(v, "messages") else v)
            for k, v in exc.message_dict.items()
        }
    return {"general": "; ".join(exc.messages)}


def _sentence(text: str) -> str:
    text = in_words(text)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _form(post: QueryDict) -> dict[str, str]:
    return {name: post.get(name, "")[:300] for name in FORM_FIELDS}


def _service_args(form: dict[str, str]) -> dict[str, str]:
    args = {k: form[k] for k in ("phone", "first_name", "last_name", "language", "default_region")}
    return args | {"timezone_name": form["timezone"]}


@page("contacts.add_contact")
def contact_new(request: AuthenticatedRequest) -> HttpResponse:
    form = {name: "" for name in FORM_FIELDS}
    problems: dict[str, str] = {}
    chosen: list[int] = []
    if request.method == "POST":
        form = _form(request.POST)
        chosen = [n for v in request.POST.getlist("lists") if (n := param_int(v)) is not None]
        try:
            contact = contact_create(
                **_service_args(form), lists=ContactList.objects.filter(pk__in=chosen)
            )
        except ValidationError as exc:
            problems = {k: _sentence(v) for k, v in _problems(exc).items()}
        else:
            audit_record(actor=request.user, action="add-contact", contact=contact)
            messages.success(request, f"Contact {contact.phone} added.")
            return redirect("ui:contact", pk=contact.pk)
    context = {
        "form": form,
        "problems": problems,
        "lists": ContactList.objects.all(),
        "chosen": chosen,
        "contact": None,
    }
    return render(request, "ui/contact_form.html", context, status=400 if problems else 200)


@page("contacts.change_contact")
def contact_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    form = {
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "language": contact.language,
        "timezone": contact.timezone,
        "default_region": "",
    }
    problems: dict[str, str] = {}
    if request.method == "POST":
        form = _form(request.POST)
        try:
            contact_update(contact=contact, **_service_args(form))
        except ValidationError as exc:
            problems = {k: _sentence(v) for k, v in _problems(exc).items()}
            contact.refresh_from_db()
        else:
            audit_record(actor=request.user, action="edit-contact", contact=contact)
            messages.success(request, f"Contact {contact.phone} saved.")
            return redirect("ui:contact", pk=contact.pk)
    context = {"form": form, "problems": problems, "contact": contact}
    return render(request, "ui/contact_form.html", context, status=400 if problems else 200)


@page("contacts.change_contact")
def contact_remove(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET: confirm; POST: delete the contact (its messages stay in campaign ledgers)."""
    contact = get_object_or_404(Contact, pk=pk)
    if request.method == "POST":
        phone = contact_delete(contact=contact)
        audit_record(actor=request.user, action="delete-contact", detail=phone)
        messages.success(request, f"Contact {phone} deleted.")
        return redirect("ui:contacts")
    return render(request, "ui/contact_delete.html", {"contact": contact})


BULK_ACTIONS = {"add_to_list", "remove_from_list", "opt_out"}


@require_POST
@page("contacts.change_contact")
def contacts_bulk(request: AuthenticatedRequest) -> HttpResponse:
    """Act on every contact the search matches: add to a list, take off a list, opt out."""
    contacts, search = contacts_filtered(request.POST)
    action = request.POST.get("action", "")
    back = reverse("ui:contacts") + "?" + request.POST.get("querystring", "")[:500]
    if action not in BULK_ACTIONS:
        messages.error(request, "Choose what to do with these contacts.")
        return redirect(back)
    ids = list(contacts.values_list("id", flat=True))
    if action == "opt_out":
        changed = contacts_opt_out(
            contact_ids=ids, source=ConsentSource.ADMIN, note="bulk opt-out", actor=request.user
        )
        done = f"{changed:,} of {len(ids):,} contacts opted out (the others already were)."
    else:
        target_id = param_int(request.POST.get("target_list")) or 0
        target = ContactList.objects.filter(pk=target_id).first()
        if target is None:
            messages.error(request, "Choose the list.")
            return redirect(back)
        if action == "add_to_list":
            changed = contact_list_add(contact_list=target, contact_ids=ids)
            done = f"{changed:,} contacts added to “{target.name}” ({len(ids):,} matched)."
        else:
            changed = contact_list_remove(contact_list=target, contact_ids=ids)
            done = f"{changed:,} contacts taken off “{target.name}” ({len(ids):,} matched)."
    audit_record(actor=request.user, action=f"bulk-{action}"[:32], detail=f"{search} → {done}")
    messages.success(request, done)
    return redirect(back)


@page("contacts.view_contactlist")
def list_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A list: its members (paginated), rename, delete."""
    contact_list = get_object_or_404(ContactList, pk=pk)
    problems: dict[str, str] = {}
    form = {"name": contact_list.name, "description": contact_list.description}
    if request.method == "POST":
        if not request.user.has_perm("contacts.change_contactlist"):
            raise PermissionDenied
        form = {k: request.POST.get(k, "")[:1000] for k in ("name", "description")}
        old = contact_list.name
        try:
            contact_list_rename(contact_list=contact_list, **form)
        except ValidationError as exc:
            problems = {k: _sentence(v) for k, v in _problems(exc).items()}
            contact_list.refresh_from_db()
        else:
            audit_record(actor=request.user, action="rename-list", detail=f"{old} → {form['name']}")
            messages.success(request, f"List saved as “{contact_list.name}”.")
            return redirect("ui:list", pk=pk)
    members = contact_list.contacts.order_by("-id")
    counts = contact_list.memberships.aggregate(
        members=Count("id"), subscribed=Count("id", filter=Q(contact__opted_out=False))
    )
    page_obj = Paginator(members, MEMBERS_PAGE).get_page(request.GET.get("page"))
    context = {
        "list": contact_list,
        "page_obj": page_obj,
        "counts": counts,
        "form": form,
        "problems": problems,
    }
    return render(request, "ui/list.html", context, status=400 if problems else 200)


@page("contacts.change_contactlist")
def list_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET: confirm; POST: delete the list (never its contacts)."""
    contact_list = get_object_or_404(ContactList, pk=pk)
    if request.method == "POST":
        try:
            name = contact_list_delete(contact_list=contact_list)
        except ValidationError as exc:
            messages.error(request, "Not deleted: " + _sentence("; ".join(exc.messages)))
            return redirect("ui:list", pk=pk)
        audit_record(actor=request.user, action="delete-list", detail=name)
        messages.success(request, f"List “{name}” deleted; its contacts are still in Herald.")
        return redirect("ui:lists")
    return render(request, "ui/list_delete.html", {"list": contact_list})
