"""Scopes and Django permissions, decided in one place (`api.policy`) for every API view."""

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from api.policy import SAFE_METHODS, scope_for_request, token_scopes

if TYPE_CHECKING:  # DRF imports the permission and throttle classes while it loads views
    from rest_framework.views import APIView


class HasScope(BasePermission):
    """The token carries the view's scope for this method (`required_scopes` on the view)."""

    message = "this token lacks the scope this call needs"

    def has_permission(self, request: Request, view: "APIView") -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        needed = scope_for_request(request, view)
        if needed is None:
            return True
        if needed not in token_scopes(request):
            self.message = f"this token lacks the scope '{needed}'"
            return False
        if getattr(view, "staff_only", False) and not request.user.is_staff:
            self.message = f"only staff may use the scope '{needed}'"
            return False
        perm = getattr(view, "read_permission", None) if request.method in SAFE_METHODS else None
        if perm and not request.user.has_perm(perm):
            self.message = f"{request.user.get_username()} lacks the permission {perm}"
            return False
        return True
