"""API token services: create (the secret is returned once), revoke, authenticate."""

import hashlib
import secrets
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

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


def api_token_create(*, user: User, scopes: Iterable[str], name: str = "") -> tuple[ApiToken, str]:
    """Create a token for `user`; returns it and its secret (shown once, stored hashed)."""
    if not user.is_active:
        raise ValidationError(f"user {user.get_username()} is not active")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        key_hash=token_hash(secret),
        scopes=scopes_parse(scopes),
    )
    return token, secret


def api_token_revoke(*, token: ApiToken) -> bool:
    """Revoke a token (idempotent); returns whether it was active."""
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db()
    return bool(updated)


def api_token_authenticate(*, secret: str) -> ApiToken | None:
    """The active token with this secret (its user active too), else None; notes its use."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if (
        token.last_used_at is None
        or (now - token.last_used_at).total_seconds() > LAST_USED_GRANULARITY
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
