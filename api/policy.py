"""Who may do what through the API: a token scope, then the user's Django permissions.

Campaign lifecycle rules (send permission, approval) are not decided here: the API calls the
campaign services with the token's owner as the actor, exactly as the UI, the admin and the
commands do, and maps their refusal (`core.rules.Refused`) to a 403.
"""

from typing import TYPE_CHECKING

from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from api.models import Scope

if TYPE_CHECKING:  # DRF imports the permission and throttle classes while it loads views
    from rest_framework.views import APIView

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def token_scopes(request: Request) -> set[str]:
    """The scopes of the request's token; a browser session (browsable API) has them all."""
    token = getattr(request, "auth", None)
    if token is None or not hasattr(token, "scopes"):
        return set(Scope.values)
    return set(token.scopes)


def scope_for_request(request: Request, view: "APIView") -> str | None:
    """The scope a view needs for this method: `read` for reads unless the view says more."""
    return scope_for(view, request.method or "GET")


def scope_for(view: "APIView", method: str) -> str | None:
    """The scope `view` needs for `method` (the OpenAPI document names it per operation)."""
    required = getattr(view, "required_scopes", None) or {}
    action = getattr(view, "action", None)
    scope: str | None
    if action and action in required:
        scope = required[action]
        return scope
    if method.upper() in SAFE_METHODS:
        scope = required.get("read", Scope.READ)
        return scope
    return required.get("write")


def require_perm(request: Request, *perms: str) -> None:
    """403 unless the token's user has every Django permission named."""
    missing = [p for p in perms if not request.user.has_perm(p)]
    if missing:
        raise PermissionDenied(f"{request.user.get_username()} lacks the permission {missing[0]}")
