"""The approval queue: drafts waiting for a second person, with what is being approved."""

from django.shortcuts import render

from campaigns.models import Campaign
from campaigns.states import CampaignState
from ui.access import APPROVE, page
from ui.services import approval_required

QUEUE_SIZE = 50


@page(APPROVE)
def approval_queue(request):
    """Drafts without an approval, oldest first, each with its message and audience."""
    waiting = (
        Campaign.objects.filter(state=CampaignState.DRAFT, approval__isnull=True)
        .select_related("created_by", "template")
        .prefetch_related("lists", "exclude_lists")
        .order_by("created_at")[:QUEUE_SIZE]
    )
    rows = [
        {"campaign": c, "mine": c.created_by_id is not None and c.created_by_id == request.user.pk}
        for c in waiting
    ]
    context = {"rows": rows, "required": approval_required()}
    return render(request, "ui/approvals.html", context)
