"""A contact's privacy in the browser: download their evidence, erase them (audited).

Thin over campaigns.erasure; the command `contact_privacy` and the admin actions call the same
services, so every surface leaves the same audit trail.
"""

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from campaigns.erasure import ErasureError, contact_erase, contact_evidence
from contacts.models import Contact
from ui.access import AuthenticatedRequest, page
from ui.services import audit_record


@page("contacts.view_contact")
def contact_evidence_download(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The contact's consent history and messages as a JSON download (the access is audited)."""
    contact = get_object_or_404(Contact, pk=pk)
    document = json.dumps(contact_evidence(contact=contact), indent=2, ensure_ascii=False)
    audit_record(actor=request.user, action="contact_evidence", contact=contact)
    response = HttpResponse(document, content_type="application/json; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="contact-{pk}-evidence-{stamp}.json"'
    return response


@page("contacts.delete_contact")
def contact_erase_page(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET: say what erasure does and ask; POST: erase the contact (cannot be undone)."""
    contact = get_object_or_404(Contact, pk=pk)
    if request.method == "POST":
        try:
            result = contact_erase(contact=contact, actor=request.user)
        except ErasureError as exc:
            messages.error(request, str(exc))
            return redirect("ui:contact", pk=pk)
        messages.success(
            request,
            f"Contact erased: {result['ledger_rows']:,} sent message(s) in "
            f"{result['campaigns']:,} campaign(s), {result['archived_rows']:,} in archived "
            f"histories and {result['replies']:,} repl(ies) kept "
            "without the number or text; counts and costs are unchanged.",
        )
        return redirect("ui:contacts")
    return render(request, "ui/contact_erase.html", {"contact": contact})
