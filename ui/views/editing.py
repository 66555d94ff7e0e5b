"""Campaign reuse from the browser: duplicate, reschedule, delete, archive (campaigns.editing)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from campaigns.editing import (
    campaign_archive,
    campaign_delete,
    campaign_duplicate,
    campaign_reschedule,
    campaign_unarchive,
)
from campaigns.models import Campaign
from campaigns.services import CampaignError
from campaigns.states import CampaignState
from core.rules import Refused
from ui.access import AuthenticatedRequest, page
from ui.services import audit_record
from ui.views.wizard_options import _local_input, parse_send_at


@require_POST
@page("campaigns.add_campaign")
def duplicate(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Copy any campaign into a new draft and open its preview."""
    source = get_object_or_404(Campaign, pk=pk)
    copy = campaign_duplicate(campaign=source, created_by=request.user)
    audit_record(actor=request.user, action="duplicate", campaign=copy, detail=f"of {source.pk}")
    messages.success(request, f"“{copy.name}” is a new draft: edit it or launch it.")
    return redirect("ui:campaign_preview", pk=copy.pk)


@page("campaigns.change_campaign")
def reschedule(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET: the new time form; POST: move the send time of a scheduled (or draft) campaign."""
    campaign = get_object_or_404(Campaign, pk=pk)
    error = ""
    value = _local_input(campaign.send_at)
    if request.method == "POST":
        value = request.POST.get("send_at", "")
        send_at = parse_send_at(value)
        if send_at is None:
            error = "Give the date and time to send at."
        else:
            try:
                campaign = campaign_reschedule(campaign=campaign, send_at=send_at)
            except (ValidationError, CampaignError) as exc:
                error = "; ".join(getattr(exc, "messages", [str(exc)]))
                error = error[0].upper() + error[1:]
            else:
                audit_record(
                    actor=request.user,
                    action="reschedule",
                    campaign=campaign,
                    detail=f"{timezone.localtime(campaign.send_at):%Y-%m-%d %H:%M %Z}",
                )
                messages.success(
                    request,
                    f"Rescheduled for {timezone.localtime(campaign.send_at):%Y-%m-%d %H:%M %Z}.",
                )
                target = (
                    "ui:campaign"
                    if campaign.state != CampaignState.DRAFT
                    else "ui:campaign_preview"
                )
                return redirect(target, pk=pk)
    context = {"campaign": campaign, "value": value, "error": error}
    return render(request, "ui/reschedule.html", context, status=400 if error else 200)


@page("campaigns.change_campaign")
def delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET: confirm; POST: delete a draft."""
    campaign = get_object_or_404(Campaign, pk=pk)
    if request.method == "POST":
        try:
            name = campaign_delete(campaign=campaign)
        except CampaignError as exc:
            messages.error(request, f"Not deleted: {exc}.")
            return redirect("ui:campaign", pk=pk)
        audit_record(actor=request.user, action="delete", detail=f"campaign {pk} “{name}”")
        messages.success(request, f"Draft “{name}” deleted.")
        return redirect("ui:campaigns")
    return render(request, "ui/delete_campaign.html", {"campaign": campaign})


def _back(campaign: Campaign) -> str:
    """The campaign's own page: the preview for a draft, the live page otherwise."""
    return "ui:campaign_preview" if campaign.state == CampaignState.DRAFT else "ui:campaign"


@page("campaigns.change_campaign")
def archive(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET: confirm; POST: hide a draft or finished campaign from the list and dashboard."""
    return _archive_toggle(request, pk, archiving=True)


@page("campaigns.change_campaign")
def unarchive(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET: confirm; POST: show an archived campaign in the list and dashboard again."""
    return _archive_toggle(request, pk, archiving=False)


def _archive_toggle(request: HttpRequest, pk: int, *, archiving: bool) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    if request.method != "POST":
        context = {"campaign": campaign, "archiving": archiving, "back": _back(campaign)}
        return render(request, "ui/archive_campaign.html", context)
    service = campaign_archive if archiving else campaign_unarchive
    try:
        campaign = service(campaign=campaign, actor=request.user)
    except (CampaignError, Refused) as exc:
        verb = "archived" if archiving else "unarchived"
        messages.error(request, f"Not {verb}: {exc}.")
    else:
        if archiving:
            messages.success(request, f"“{campaign.name}” archived: it is hidden from the list.")
        else:
            messages.success(request, f"“{campaign.name}” unarchived.")
    return redirect(_back(campaign), pk=pk)
