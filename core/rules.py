"""Who is acting, and the one refusal every surface maps: the lowest layer of Herald's rules.

Services take an `actor`: a Django user (from the UI, the admin, the API or `--as USERNAME` on
the command line), or an `Operator` — the server's operator running a command without `--as`
(all permissions, audited by name), or the engine itself (`SYSTEM`, e.g. the drift guard
pausing a campaign). A service that refuses raises `Refused`, which names what is missing; the
UI shows it (or answers 403), the admin shows a message and changes nothing, a command exits
non-zero with it, the API answers 403 JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User


@dataclass(frozen=True)
class Operator:
    """Someone with shell access to the server, acting without a named user."""

    name: str = "operator"

    @property
    def is_authenticated(self) -> bool:
        # Not a user: an operator never counts as a named person (approval needs one).
        return False

    def __str__(self) -> str:
        return self.name


OPERATOR = Operator("operator")
SYSTEM = Operator("system")

Actor: TypeAlias = AbstractBaseUser | AnonymousUser | Operator


class Refused(Exception):
    """An action the actor may not take; `missing` names the permission or approval lacking."""

    def __init__(self, message: str, *, missing: str = "") -> None:
        super().__init__(message)
        self.missing = missing


def actor_user(actor: Actor | Any) -> User | None:
    """The named, logged-in user behind `actor` (None for operators and anonymous users)."""
    if isinstance(actor, Operator) or actor is None:
        return None
    if not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", True):
        return None
    # Herald uses Django's own user model (no AUTH_USER_MODEL swap), so a user is a User.
    return cast(User, actor)


def actor_label(actor: Actor | Any) -> str:
    """How the audit trail names `actor`: the username, "operator", "system" or "anonymous"."""
    if isinstance(actor, Operator):
        return actor.name
    user = actor_user(actor)
    return user.get_username() if user is not None else "anonymous"


def actor_can(actor: Actor | Any, permission: str) -> bool:
    """Whether `actor` holds `permission` (operators hold every permission)."""
    if isinstance(actor, Operator):
        return True
    user = actor_user(actor)
    return user is not None and user.has_perm(permission)


def actor_require(actor: Actor | Any, permission: str, *, doing: str) -> None:
    """Raise Refused unless `actor` holds `permission`."""
    if actor_can(actor, permission):
        return
    if actor_user(actor) is None:
        raise Refused(f"{doing} needs a logged-in user", missing=permission)
    raise Refused(
        f"{actor_label(actor)} may not {doing}: the permission {permission!r} is missing",
        missing=permission,
    )
