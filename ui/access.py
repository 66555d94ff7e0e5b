"""Page access: every UI page needs a login; some need a permission (403 without it)."""

from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

LAUNCH = "ui.launch_campaign"
APPROVE = "ui.approve_campaign"

P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)


class AuthenticatedRequest(HttpRequest):
    """The request a `page` view is given: `page` lets only logged-in users through."""

    user: User


def page(
    *perms: str,
) -> Callable[
    [Callable[Concatenate[AuthenticatedRequest, P], R]], Callable[Concatenate[HttpRequest, P], R]
]:
    """Decorator: logged-in users only (else the login page); 403 without all of `perms`."""

    def decorator(
        view: Callable[Concatenate[AuthenticatedRequest, P], R],
    ) -> Callable[Concatenate[HttpRequest, P], R]:
        @wraps(view)
        def wrapped(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> R:
            from ui.timezones import activate_for

            activate_for(request)  # times shown and typed in the person's own zone
            if perms and not request.user.has_perms(perms):
                missing = [p for p in perms if not request.user.has_perm(p)]
                raise PermissionDenied(permission_denied_text(missing[0]))
            # login_required (below) has turned away anonymous visitors: the user is a User.
            return view(cast(AuthenticatedRequest, request), *args, **kwargs)

        return login_required(wrapped)

    return decorator


def permission_denied_text(perm: str) -> str:
    """What a refused person reads: the permission by its name, the roles and people who have it."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    app_label, _, codename = perm.partition(".")
    found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    if found is None:
        return f"This needs the permission “{perm}”."
    groups = list(Group.objects.filter(permissions=found).values_list("name", flat=True)[:5])
    people = list(
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__permissions=found) | Q(user_permissions=found) | Q(is_superuser=True))
        .distinct()
        .order_by("username")
        .values_list("username", flat=True)[:6]
    )
    text = f"This needs the permission “{found.name}” ({perm})."
    if groups:
        plural = len(groups) > 1
        text += f" The {', '.join(groups)} role{'s have' if plural else ' has'} it."
    if people:
        text += " Ask " + ", ".join(people[:5]) + (" or others" if len(people) > 5 else "") + "."
    return text
