"""Fixtures for the API tests: users with roles, tokens, a JSON client, the live sandbox."""

import json
from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from api.tokens import api_token_create
from ui.roles import ROLE_PERMISSIONS

ALL_SCOPES = [
    "read",
    "contacts:write",
    "campaigns:write",
    "campaigns:send",
    "messages:send",
    "events:manage",
    "infobip:request",
    "conversions:write",
    "senders:write",
]


def make_user(username: str, *roles: str) -> User:
    """A user in the given role groups (ui.roles), with their permissions."""
    user = User.objects.create_user(username, password="pw-not-used")
    for role in roles:
        group, _ = Group.objects.get_or_create(name=role)
        for name in ROLE_PERMISSIONS[role]:
            app_label, codename = name.split(".")
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                group.permissions.add(perm)
        user.groups.add(group)
    return user


class ApiClient:
    """JSON calls with a bearer token, running what commits enqueue (eager Celery)."""

    def __init__(self, client: Client, capture: Callable, token: str | None) -> None:
        self.client, self.capture, self.token = client, capture, token

    def call(
        self, method: str, path: str, body=None, headers: dict | None = None, execute: bool = True
    ):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        if self.token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        data = json.dumps(body) if body is not None else None
        with self.capture(execute=execute):
            return getattr(self.client, method.lower())(
                "/api/v1/" + path.lstrip("/"), data=data, content_type="application/json", **extra
            )

    def get(self, path: str, **kw):
        return self.call("GET", path, **kw)

    def post(self, path: str, body=None, **kw):
        return self.call("POST", path, body, **kw)


@pytest.fixture
def api_for(client: Client, django_capture_on_commit_callbacks) -> Callable[..., ApiClient]:
    """`api_for(user, scopes)`: an ApiClient with a fresh token of that user and scopes."""

    def make(user: User | None, scopes: list[str] | None = None) -> ApiClient:
        secret = None
        if user is not None:
            _, secret = api_token_create(user=user, scopes=scopes or ALL_SCOPES)
        return ApiClient(client, django_capture_on_commit_callbacks, secret)

    return make


@pytest.fixture
def sender_user(db) -> User:
    """A staff marketer who may also launch (Marketer + Sender roles; staff manage events)."""
    user = make_user("sam", "Marketer", "Sender")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def live_sandbox(sandbox, settings):
    """Herald's client pointed at the test sandbox (as tests/campaigns does)."""
    settings.INFOBIP_SANDBOX_URL = sandbox.url
    settings.INFOBIP_SANDBOX_API_KEY = sandbox.api_key
    settings.HERALD_BATCH_SIZE = 25
    settings.HERALD_SEND_CHAINS = 2
    return sandbox


@pytest.fixture(autouse=True)
def _loopback_receivers(settings) -> None:
    # Test receivers are local HTTP servers on 127.0.0.1: allow them (production refuses).
    settings.HERALD_EVENTS_ALLOW_PRIVATE = True
