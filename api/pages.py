"""The "API & events" page: a user's tokens and the event subscriptions (server-rendered)."""

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods

from api.delivery import UnsafeUrlError
from api.models import ApiToken, EventSubscription, EventType, Scope
from api.services import event_subscription_create, event_subscription_update
from api.tokens import api_token_create, api_token_revoke, expiry_parse


def _signed_in_user(request: HttpRequest) -> User:
    """The request's user; the page is `login_required`, so never anonymous."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


@login_required
@require_http_methods(["GET", "POST"])
def api_settings(request: HttpRequest) -> HttpResponse:
    """List, create (secret shown once) and revoke tokens; list and add subscriptions."""
    user = _signed_in_user(request)
    errors: list[str] = []
    shown_secret = shown_webhook_secret = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create_token":
            try:
                _, shown_secret = api_token_create(
                    user=user,
                    scopes=request.POST.getlist("scopes"),
                    name=request.POST.get("name", ""),
                    expires_in=expiry_parse(request.POST.get("expires_in", "")),
                )
            except ValidationError as exc:
                errors += exc.messages
        elif action == "revoke_token":
            token = get_object_or_404(ApiToken, pk=request.POST.get("token"), user=user)
            api_token_revoke(token=token)
        elif action in ("create_subscription", "toggle_subscription"):
            if not user.is_staff:
                errors.append("only staff manage event subscriptions")
            elif action == "create_subscription":
                try:
                    created = event_subscription_create(
                        owner=user,
                        url=request.POST.get("url", "").strip(),
                        events=request.POST.getlist("events"),
                        filter_number=request.POST.get("number", ""),
                        filter_keyword=request.POST.get("keyword", ""),
                    )
                    shown_webhook_secret = created.secret
                except (UnsafeUrlError, ValueError) as exc:
                    errors.append(str(exc))
            else:
                subscription = get_object_or_404(
                    EventSubscription, pk=request.POST.get("subscription")
                )
                event_subscription_update(
                    subscription=subscription, actor=user, enabled=not subscription.enabled
                )
    context = {
        "tokens": ApiToken.objects.filter(user=user),
        "scopes": Scope.choices,
        "event_types": EventType.choices,
        "subscriptions": EventSubscription.objects.all() if user.is_staff else [],
        "errors": errors,
        "shown_secret": shown_secret,
        "shown_webhook_secret": shown_webhook_secret,
    }
    return render(request, "api/settings.html", context, status=400 if errors else 200)
