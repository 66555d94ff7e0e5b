"""Who may do what through the API: a token scope, then the user's Django permissions.

This is the one place the API decides authorization, so it can be swapped for the campaign
services' own checks (acting user) when they exist: `campaign_action_check` mirrors what the
UI does today (`ui.views.campaigns.campaign_action`: `ui.launch_campaign`, and
`ui.services.campaign_approval_problem` before a launch).
"""

from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from api.models import Scope
from campaigns.models import Campaign
from ui.services import campaign_approval_problem

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LAUNCH_PERMISSION = "ui.launch_campaign"


def token_scopes(request: Request) -> set[str]:
    """The scopes of the request's token; a browser session (browsable API) has them all."""
    token = getattr(request, "auth", None)
    if token is None or not hasattr(token, "scopes"):
        return set(Scope.values)
    return set(token.scopes)


def scope_for_request(request: Request, view) -> str | None:
    """The scope a view needs for this method: `read` for reads unless the view says more."""
    required = getattr(view, "required_scopes", None) or {}
    action = getattr(view, "action", None)
    if action and action in required:
        return required[action]
    if request.method in SAFE_METHODS:
        return required.get("read", Scope.READ)
    return required.get("write")


def require_perm(request: Request, *perms: str) -> None:
    """403 unless the token's user has every Django permission named."""
    missing = [p for p in perms if not request.user.has_perm(p)]
    if missing:
        raise PermissionDenied(f"{request.user.get_username()} lacks the permission {missing[0]}")


def campaign_action_check(request: Request, *, campaign: Campaign, action: str) -> None:
    """Launch/pause/resume/cancel: the launch permission, and the approval rule for a launch."""
    require_perm(request, LAUNCH_PERMISSION)
    if action == "launch" and (problem := campaign_approval_problem(campaign=campaign)):
        raise PermissionDenied(problem)
