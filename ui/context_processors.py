"""Template context for the marketer's pages: the approvers' in-app notification."""

from typing import Any

from django.http import HttpRequest

from ui.access import APPROVE


def approvals_waiting(request: HttpRequest) -> dict[str, Any]:
    """How many approval requests wait for this approver (not their own campaigns): the
    menu shows it next to Approvals (issue 26 #13). One small query, for approvers only."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.has_perm(APPROVE):
        return {}
    from campaigns.models import ApprovalRequest

    waiting = (
        ApprovalRequest.objects.filter(closed_at__isnull=True)
        .exclude(campaign__created_by=user)
        .count()
    )
    return {"approvals_waiting": waiting}
