"""Replies that may revoke consent (contacts.RevocationReview): decided from the inbox."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from contacts.models import RevocationReview
from contacts.services import ReviewError, revocation_review_resolve
from core.rules import Refused
from ui.access import AuthenticatedRequest, page


@require_POST
@page("infobip.view_inboundmessage")
def review_resolve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Opt the contact out, or keep them; who may is the service's rule (change contacts)."""
    review = get_object_or_404(RevocationReview, pk=pk)
    resolution = request.POST.get("resolution", "")
    try:
        revocation_review_resolve(review=review, resolution=resolution, actor=request.user)
    except (Refused, ReviewError) as exc:
        messages.error(request, f"Not resolved: {exc}")
    else:
        done = "opted out" if resolution == "opted_out" else "kept (not a revocation)"
        messages.success(request, f"{review.contact.phone}: {done}.")
    if request.POST.get("back") == "thread":
        return redirect("ui:thread", pk=review.contact_id)
    return redirect("ui:inbox")
