"""WhatsApp templates: list with status, sync now, rendered preview."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from ui.access import AuthenticatedRequest, page
from ui.services import audit_record
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import template_render, templates_sync_all


@page("whatsapp.view_whatsapptemplate")
def template_list(request: AuthenticatedRequest) -> HttpResponse:
    templates = WhatsAppTemplate.objects.all()
    return render(request, "ui/templates.html", {"templates": templates})


@page("whatsapp.view_whatsapptemplate")
def template_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(WhatsAppTemplate, pk=pk)
    context = {"template": template, "rendered": template_render(template=template, values=None)}
    return render(request, "ui/template.html", context)


@require_POST
@page("whatsapp.sync_whatsapptemplate")
def template_sync(request: AuthenticatedRequest) -> HttpResponse:
    results = templates_sync_all()
    for result in results:
        if result.failure:
            messages.error(request, f"Sync of sender {result.sender} failed: {result.failure}")
        else:
            messages.success(request, f"Templates of sender {result.sender}: {result.summary()}")
    audit_record(actor=request.user, action="sync-templates", detail=f"{len(results)} sender(s)")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "ui:templates"
    return redirect(target)
