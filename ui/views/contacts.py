"""Contacts: list, contact page (consent history, conversation), import, lists."""

import re
import unicodedata
from pathlib import Path

import phonenumbers
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from contacts.attributes import DateOrder
from contacts.csvfile import ImportFileError
from contacts.models import ConsentSource, Contact, ContactList
from contacts.phones import PhoneChecker
from contacts.services import (
    contact_list_create,
    contact_opt_in,
    contact_opt_out,
    list_name_problem,
)
from core.params import param_int
from inbox.conversations import reply_options
from ui.access import AuthenticatedRequest, page
from ui.import_form import (
    CONSENT_CHANNEL_CHOICES,
    TARGET_CHOICES,
    columns_from_form,
    mapping_rows,
)
from ui.models import ImportJob
from ui.selectors import conversation
from ui.services import (
    UiError,
    audit_record,
    import_job_create,
    import_job_preview,
    import_job_start,
)

PAGE_SIZE = 50


# Accent-insensitive search without a database extension: each letter of the (unaccented)
# query matches its accented forms, as a regular expression (no unaccent extension needed).
_ACCENTS = {
    "a": "aàáâãäåā",
    "c": "cçćč",
    "e": "eèéêëēėę",
    "i": "iìíîïī",
    "n": "nñń",
    "o": "oòóôõöøō",
    "u": "uùúûüū",
    "y": "yýÿ",
    "s": "sśšş",
    "z": "zźżž",
    "l": "lł",
    "g": "gğ",
}
SEARCH_MAX = 100


def _unaccent(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ø", "o")


def _accent_regex(text: str) -> str:
    out = []
    for char in _unaccent(text.lower()):
        variants = _ACCENTS.get(char)
        out.append(f"[{variants}{variants.upper()}]" if variants else re.escape(char))
    return "".join(out)


def _national_matches(text: str) -> list[str]:
    """E.164 forms of a national-format number in the regions Herald's contacts are from."""
    digits = re.sub(r"[\s().-]", "", text)
    if not digits.startswith("0") or not digits[1:].isdigit():
        return []
    regions = Contact.objects.exclude(country="").values_list("country", flat=True).distinct()
    found = []
    for region in list(regions.order_by("country")[:20]):
        try:
            found.append(PhoneChecker(region).check(digits).e164)
        except ValueError:
            continue
    return found


def contacts_filtered(params: QueryDict) -> tuple[QuerySet[Contact], dict[str, str]]:
    """The contacts a search shows (also what a bulk action on that search acts on)."""
    contacts = Contact.objects.all().order_by("-id")
    q = params.get("q", "").strip()[:SEARCH_MAX]
    list_id = params.get("list", "")
    consent = params.get("consent", "")
    if q:
        pattern = _accent_regex(q)
        match = Q(first_name__iregex=pattern) | Q(last_name__iregex=pattern)
        digits = re.sub(r"[\s().+-]", "", q)
        if digits.isdigit():
            match |= Q(phone__contains=digits.removeprefix("00"))
            if national := _national_matches(q):
                match |= Q(phone__in=national)
        contacts = contacts.filter(match)
    if (list_pk := param_int(list_id)) is not None:
        contacts = contacts.filter(memberships__contact_list_id=list_pk)
    if consent == "opted_out":
        contacts = contacts.filter(opted_out=True)
    elif consent == "subscribed":
        contacts = contacts.filter(opted_out=False)
    return contacts, {"q": q, "list_id": list_id, "consent": consent}


@page("contacts.view_contact")
def contact_list(request: AuthenticatedRequest) -> HttpResponse:
    contacts, search = contacts_filtered(request.GET)
    paginator = Paginator(contacts, PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    context = {
        "page_obj": page_obj,
        **search,
        "lists": ContactList.objects.all(),
        "querystring": request.GET.copy(),
    }
    return render(request, "ui/contacts.html", context)


@page("contacts.view_contact")
def contact_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    context = {
        "contact": contact,
        "consent_events": contact.consent_events.select_related("actor")[:100],
        "conversation": conversation(contact),
        "lists": contact.lists.all(),
        "session_windows": [o for o in reply_options(contact) if o["window"]],
    }
    return render(request, "ui/contact.html", context)


@require_POST
@page("contacts.change_contact")
def contact_consent(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    action = request.POST.get("action")
    note = request.POST.get("note", "")[:500]
    if action == "opt_out":
        changed = contact_opt_out(
            contact=contact, source=ConsentSource.ADMIN, note=note, actor=request.user
        )
    elif action == "opt_in":
        changed = contact_opt_in(
            contact=contact, source=ConsentSource.ADMIN, note=note, actor=request.user
        )
    else:
        raise Http404
    if changed:
        audit_record(actor=request.user, action=action.replace("_", "-"), contact=contact)
        messages.success(request, f"{contact.phone}: {action.replace('_', ' ')} recorded.")
    else:
        messages.info(request, "Nothing changed: the contact was already in that state.")
    return redirect("ui:contact", pk=pk)


@page("contacts.add_contact")
def contact_import(request: AuthenticatedRequest) -> HttpResponse:
    """Step 1: choose the file (and the list); step 2 (import_mapping) maps its columns."""
    errors: list[str] = []
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            errors.append("Choose a CSV file to upload.")
        elif upload.size == 0:
            errors.append("The file is empty.")
        list_name = request.POST.get("list_name", "").strip()
        if list_name and (problem := list_name_problem(list_name)):
            # Refused before the file is stored: the job could not hold the name.
            errors.append(f"List: {problem}.")
        # The region is checked on the mapping step, where the file is kept.
        if not errors and upload is not None:
            # The file is kept from here on: whatever the next step refuses, it stays.
            job = import_job_create(
                upload=upload,
                list_name=request.POST.get("list_name", ""),
                default_region=request.POST.get("default_region", ""),
                allow_sequential=request.POST.get("allow_sequential") == "1",
                user=request.user,
            )
            return redirect("ui:import_mapping", pk=job.pk)
    context = {
        "errors": errors,
        "lists": ContactList.objects.all(),
        "jobs": ImportJob.objects.select_related("created_by")[:10],
    }
    return render(request, "ui/import.html", context, status=400 if errors else 200)


@page("contacts.add_contact")
def import_mapping(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Step 2: a sample of the file and what each column becomes; Import starts the job."""
    job = get_object_or_404(ImportJob, pk=pk)
    if job.status != ImportJob.Status.MAPPING:
        return redirect("ui:import", pk=job.pk)
    try:
        preview = import_job_preview(job=job)
    except ImportFileError as exc:
        context = {"job": job, "file_error": str(exc)}
        return render(request, "ui/import_mapping.html", context, status=400)
    columns = preview.columns
    form = {
        "list_name": job.list_name,
        "default_region": job.default_region,
        "allow_sequential": job.allow_sequential,
    }
    errors: list[str] = []
    if request.method == "POST":
        columns = columns_from_form(request.POST, preview.header, columns)
        form = {
            "list_name": request.POST.get("list_name", "")[:200],
            "default_region": request.POST.get("default_region", "")[:10],
            "allow_sequential": request.POST.get("allow_sequential") == "1",
        }
        list_name = str(form["list_name"]).strip()
        if request.POST.get("action") != "refresh" and (
            problem := list_name and list_name_problem(list_name)
        ):
            errors.append(f"List: {problem}.")
        elif request.POST.get("action") != "refresh":
            try:
                import_job_start(
                    job=job,
                    columns=columns,
                    user=request.user,
                    list_name=str(form["list_name"]),
                    default_region=str(form["default_region"]),
                    allow_sequential=bool(form["allow_sequential"]),
                )
            except (ImportFileError, ValueError, UiError) as exc:
                errors.append(str(exc)[0].upper() + str(exc)[1:])
            else:
                return redirect("ui:import", pk=job.pk)
    else:
        if job.list_name and (problem := list_name_problem(job.list_name.strip())):
            errors.append(f"List: {problem}.")
        if job.default_region and job.default_region not in phonenumbers.SUPPORTED_REGIONS:
            errors.append(
                f"“{job.default_region}” is not a country code: use two letters such as GB."
            )
    context = {
        "job": job,
        "preview": preview,
        "rows": mapping_rows(preview, columns),
        "targets": TARGET_CHOICES,
        "orders": DateOrder.choices,
        "channels": CONSENT_CHANNEL_CHOICES,
        "form": form,
        "errors": errors,
        "lists": ContactList.objects.all(),
    }
    return render(request, "ui/import_mapping.html", context, status=400 if errors else 200)


@page("contacts.add_contact")
def import_status(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    template = (
        "ui/_import_progress.html" if request.headers.get("HX-Request") else "ui/import_job.html"
    )
    return render(request, template, {"job": job})


@page("contacts.add_contact")
def import_errors(request: AuthenticatedRequest, pk: int) -> FileResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    path = Path(job.errors_file) if job.errors_file else None
    if path is None or not path.is_file():
        raise Http404("this import has no errors file")
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"import-{job.pk}-errors.csv")


@page("contacts.view_contactlist")
def lists(request: AuthenticatedRequest) -> HttpResponse:
    errors: list[str] = []
    if request.method == "POST":
        if not request.user.has_perm("contacts.add_contactlist"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        name = request.POST.get("name", "").strip()
        try:
            created = contact_list_create(
                name=name, description=request.POST.get("description", "")
            )
        except ValidationError as exc:
            errors += [f"{m[0].upper()}{m[1:]}." for m in exc.messages]
        else:
            audit_record(actor=request.user, action="create-list", detail=created.name)
            messages.success(request, f"List “{created.name}” created.")
            return redirect("ui:lists")
    all_lists = ContactList.objects.annotate(
        members=Count("memberships"),
        subscribed=Count("memberships", filter=Q(memberships__contact__opted_out=False)),
    )
    return render(request, "ui/lists.html", {"lists": all_lists, "errors": errors})
