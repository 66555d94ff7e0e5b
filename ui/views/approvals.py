"""The approval queue: drafts waiting for a second person, with what is being approved."""

import datetime as dt
from typing import NotRequired, TypedDict

from django.http import HttpResponse
from django.shortcuts import render

from campaigns.analytics import marketing_campaigns
from campaigns.models import ApprovalRequest, Campaign
from campaigns.services import approval_required, campaign_approval_problem
from campaigns.states import CampaignState
from ui.access import APPROVE, AuthenticatedRequest, page

QUEUE_SIZE = 50


class _QueueRow(TypedDict):
    campaign: Campaign
    mine: bool  # drafted by the viewer (who cannot approve it)
    request: NotRequired[ApprovalRequest | None]


def _requested_first(row: _QueueRow) -> tuple[bool, dt.datetime]:
    """Requested ones first (the approvers were notified of those), oldest request first."""
    request = row.get("request")
    return request is None, request.requested_at if request else dt.datetime.min.replace(
        tzinfo=dt.UTC
    )


@page(APPROVE)
def approval_queue(request: AuthenticatedRequest) -> HttpResponse:
    """Drafts without a valid approval, oldest first, each with its message and audience.

    An approval voided by a later edit (its fingerprint no longer matches) counts as none.
    """
    drafts = (
        marketing_campaigns()
        .filter(state=CampaignState.DRAFT)
        .select_related("created_by", "template", "approval")
        .prefetch_related("lists", "exclude_lists")
        .order_by("created_at")
    )
    rows: list[_QueueRow] = []
    for c in drafts.iterator(chunk_size=QUEUE_SIZE):
        if not hasattr(c, "approval") or campaign_approval_problem(campaign=c):
            mine = c.created_by_id is not None and c.created_by_id == request.user.pk
            rows.append({"campaign": c, "mine": mine})
            if len(rows) == QUEUE_SIZE:
                break
    # Requested ones first (the approvers were notified of those), oldest request first.
    requests = {
        r.campaign_id: r
        for r in ApprovalRequest.objects.filter(
            closed_at__isnull=True, campaign_id__in=[row["campaign"].pk for row in rows]
        ).select_related("requested_by")
    }
    for row in rows:
        row["request"] = requests.get(row["campaign"].pk)
    rows.sort(key=_requested_first)
    context = {"rows": rows, "required": approval_required()}
    return render(request, "ui/approvals.html", context)
