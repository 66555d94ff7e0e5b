"""Admin for API tokens (created here too: the secret is shown once) and outbound events."""

import datetime as dt
import json

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from api.delivery import deliveries_fill, deliveries_replay
from api.models import ApiToken, DeliveryAttempt, EventDelivery, EventSubscription
from api.services import new_secret
from api.tokens import api_token_create, api_token_revoke, scopes_parse
from core.rules import actor_user


class ApiTokenForm(forms.ModelForm[ApiToken]):
    """The admin's token form: an expiry, when given, lies in the future."""

    class Meta:
        model = ApiToken
        fields = ["user", "name", "scopes", "expires_at"]

    def clean_expires_at(self) -> dt.datetime | None:
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("a time in the future, or empty: the token never expires")
        return value


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    form = ApiTokenForm
    list_display = [
        "prefix",
        "name",
        "user",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "state",
        "revoked_at",
    ]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["prefix", "name", "user__username"]
    fields = ["user", "name", "scopes", "expires_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        return ["user", "scopes", "expires_at", "revoked_at"] if obj else ["revoked_at"]

    @admin.display(description="state")
    def state(self, obj: ApiToken) -> str:
        return obj.state

    def save_model(
        self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm[ApiToken], change: bool
    ) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        lifetime = obj.expires_at - timezone.now() if obj.expires_at else None
        token, secret = api_token_create(
            user=obj.user,
            scopes=scopes_parse(obj.scopes or []),
            name=obj.name,
            expires_in=lifetime,
        )
        obj.pk, obj.key_hash, obj.prefix = token.pk, token.key_hash, token.prefix
        obj.expires_at = token.expires_at
        obj._state.adding = False
        self.message_user(
            request,
            f"Token created. Copy it now, it is not shown again: {secret}",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = sum(api_token_revoke(token=token) for token in queryset)
        self.message_user(request, f"{count} token(s) revoked.")


class AttemptInline(admin.TabularInline[DeliveryAttempt, EventDelivery]):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["at", "status_code", "latency_ms", "response_excerpt", "error"]


@admin.register(EventSubscription)
class EventSubscriptionAdmin(admin.ModelAdmin[EventSubscription]):
    list_display = [
        "id",
        "url",
        "events",
        "filter_number",
        "filter_keyword",
        "enabled",
        "failing_since",
        "disabled_reason",
    ]
    list_filter = ["enabled"]
    readonly_fields = ["failing_since", "disabled_reason", "created_at"]

    def save_model(
        self,
        request: HttpRequest,
        obj: EventSubscription,
        form: forms.ModelForm[EventSubscription],
        change: bool,
    ) -> None:
        from api.delivery import receiver_url_check

        receiver_url_check(obj.url)
        if not obj.secret:
            obj.secret = new_secret()
            self.message_user(
                request, f"Signing secret (shown once): {obj.secret}", messages.WARNING
            )
        if not obj.owner_id:
            obj.owner = actor_user(request.user)  # staff: a logged-in, active user
        super().save_model(request, obj, form, change)


@admin.register(EventDelivery)
class EventDeliveryAdmin(admin.ModelAdmin[EventDelivery]):
    list_display = [
        "id",
        "subscription",
        "event_type",
        "state",
        "attempts",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["state", "event_type"]
    readonly_fields = [
        "subscription",
        "event_type",
        "webhook_id",
        "dedupe_key",
        "message",
        "body",
        "state",
        "attempts",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    ]
    inlines = [AttemptInline]
    actions = ["replay"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> EventDelivery | None:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            deliveries_fill([obj])  # message.final: body and webhook-id from the ledger row
        return obj

    @admin.display(description="data")
    def body(self, obj: EventDelivery) -> str:
        """The event's data as sent (message.final: built from the ledger row, see api.emit)."""
        return json.dumps(obj.payload, indent=2, ensure_ascii=False)

    @admin.action(description="Replay the selected deliveries", permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[EventDelivery]) -> None:
        count = deliveries_replay(delivery_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{count} deliveries queued again.")
