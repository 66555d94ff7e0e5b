"""API tokens: create (the secret is returned once; may expire), revoke, authenticate."""

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_duration

from api.models import ApiToken, Scope

TOKEN_PREFIX = "hrld_"  # noqa: S105 - a visible prefix, not a secret
# last_used_at is written at most this often per token: not one UPDATE per request.
LAST_USED_GRANULARITY = 60


def token_hash(secret: str) -> str:
    """The stored form of a token secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def scopes_parse(raw: str | Iterable[str]) -> list[str]:
    """Scope names from "a,b" or a list; ValidationError names any unknown one."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    scopes = [s.strip() for s in items if isinstance(s, str) and s.strip()]
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown or not scopes:
        named = ", ".join(unknown) or "(none given)"
        raise ValidationError(f"unknown scope(s) {named}; use {', '.join(Scope.values)}")
    return sorted(set(scopes), key=Scope.values.index)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SHORT = re.compile(r"^(\d{1,6})([smhdw])$")


def expiry_parse(raw: str | None) -> dt.timedelta | None:
    """A lifetime from `90d`, `12h`, `30m`, `2w`, ISO 8601 (`P30D`) or empty (never expires)."""
    text = (raw or "").strip()
    if not text:
        return None
    lifetime: dt.timedelta | None
    if match := _SHORT.match(text.lower()):
        lifetime = dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    else:
        lifetime = parse_duration(text) if text[:1] in "Pp" else None
    if lifetime is None or lifetime <= dt.timedelta(0):
        raise ValidationError(
            f"expires in {text[:40]!r}: use a number and a unit (90d, 12h, 30m, 2w) or ISO 8601"
        )
    if lifetime > MAX_LIFETIME:
        raise ValidationError(f"expires in {text[:40]!r}: at most {MAX_LIFETIME.days:,} days")
    return lifetime


MAX_LIFETIME = dt.timedelta(days=3650)


def api_token_create(
    *, user: User, scopes: Iterable[str], name: str = "", expires_in: dt.timedelta | None = None
) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns it and its secret (shown once, stored hashed)."""
    if not user.is_active:
        raise ValidationError(f"user {user.get_username()} is not active")
    if expires_in is not None and not dt.timedelta(0) < expires_in <= MAX_LIFETIME:
        raise ValidationError(f"a token lives more than 0 and at most {MAX_LIFETIME.days:,} days")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        key_hash=token_hash(secret),
        scopes=scopes_parse(scopes),
        expires_at=timezone.now() + expires_in if expires_in else None,
    )
    return token, secret


def api_token_revoke(*, token: ApiToken) -> bool:
    """Revoke a token (idempotent); returns whether it was active."""
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db()
    return bool(updated)


class TokenExpired(Exception):
    """The token exists but its lifetime is over."""


def api_token_authenticate(*, secret: str) -> ApiToken | None:
    """The active token with this secret (its user active too), else None; notes its use.

    An expired token raises TokenExpired, so the caller can say so rather than "unknown".
    """
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenExpired(f"the token expired at {token.expires_at.isoformat()}")
    if (
        token.last_used_at is None
        or (now - token.last_used_at).total_seconds() > LAST_USED_GRANULARITY
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
