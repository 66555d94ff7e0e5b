"""Bearer-token authentication for the API (tokens of api.tokens)."""

from typing import Any

from django.contrib.auth.models import User
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from api.models import ApiToken
from api.tokens import TokenExpired, api_token_authenticate


def request_user(request: Request) -> User:
    """The request's user; API views run for authenticated users only (api.permissions)."""
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated()
    return user


def request_token(request: Request) -> ApiToken | None:
    """The request's ApiToken, or None for a browser session (the browsable API)."""
    token = request.auth
    return token if isinstance(token, ApiToken) else None


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`; `request.auth` is the ApiToken."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("the Authorization header is `Bearer <token>`")
        try:
            token = api_token_authenticate(secret=parts[1])
        except TokenExpired as exc:
            raise exceptions.AuthenticationFailed(f"{exc}: ask for a new one") from None
        if token is None:
            raise exceptions.AuthenticationFailed("the token is unknown or revoked")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme of TokenAuthentication (drf-spectacular picks it up)."""

    target_class = "api.auth.TokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "An API token (hrld_…)"}
