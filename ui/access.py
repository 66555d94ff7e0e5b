"""Page access: every UI page needs a login; some need a permission (403 without it)."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

LAUNCH = "ui.launch_campaign"
APPROVE = "ui.approve_campaign"


def page(*perms: str) -> Callable:
    """Decorator: logged-in users only (else the login page); 403 without all of `perms`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if perms and not request.user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator
