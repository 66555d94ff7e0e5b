"""Admin for WhatsApp templates: read-only (they come from Infobip), filterable, syncable."""

import json
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from whatsapp.models import WhatsAppTemplate
from whatsapp.services import InvalidSender, TemplateSyncError, template_render, templates_sync


class RemovedUpstreamFilter(admin.SimpleListFilter):
    title = "on Infobip"
    parameter_name = "removed"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [("no", "present"), ("yes", "removed upstream")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[WhatsAppTemplate]
    ) -> QuerySet[WhatsAppTemplate]:
        if self.value() == "yes":
            return queryset.filter(removed_upstream_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(removed_upstream_at__isnull=True)
        return queryset


@admin.register(WhatsAppTemplate)
class WhatsAppTemplateAdmin(admin.ModelAdmin[WhatsAppTemplate]):
    list_display = [
        "name",
        "language",
        "sender",
        "status",
        "category",
        "quality",
        "supported",
        "removed_upstream_at",
        "last_synced_at",
    ]
    list_filter = ["sender", "status", "language", "category", "supported", RemovedUpstreamFilter]
    search_fields = ["name", "body_text"]
    actions = ["sync_now"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "sender",
                    "name",
                    "language",
                    "status",
                    "status_reason",
                    "sendable",
                    "category",
                    "quality",
                    "infobip_id",
                ]
            },
        ),
        (
            "Content",
            {
                "fields": [
                    "readable_structure",
                    "placeholder_summary",
                    "placeholder_warning",
                    "supported",
                    "unsupported_reason",
                ]
            },
        ),
        ("Sync", {"fields": ["last_synced_at", "removed_upstream_at", "created_at", "updated_at"]}),
        ("Infobip payload", {"classes": ["collapse"], "fields": ["raw_payload"]}),
    ]

    def get_readonly_fields(
        self, request: HttpRequest, obj: WhatsAppTemplate | None = None
    ) -> list[str]:
        # Every field of the fieldsets, read-only (none is a grouped row of fields).
        return [f for fs in self.fieldsets for f in fs[1]["fields"] if isinstance(f, str)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: WhatsAppTemplate | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: WhatsAppTemplate | None = None
    ) -> bool:
        return False  # campaigns reference templates; gone ones are marked, not deleted

    def has_sync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("whatsapp.sync_whatsapptemplate")

    @admin.display(description="structure (as the recipient reads it)")
    def readable_structure(self, obj: WhatsAppTemplate) -> str:
        return format_html(
            '<pre style="white-space: pre-wrap; margin: 0">{}</pre>',
            template_render(template=obj, values=None),
        )

    @admin.display(description="placeholders")
    def placeholder_summary(self, obj: WhatsAppTemplate) -> str:
        buttons = ", ".join(
            f"button {b['index'] + 1} ({b['type']})"
            for b in obj.value_buttons
            if b.get("placeholders")
        )
        parts = [
            f"header: {obj.header_placeholder_count} ({obj.header_format or 'none'})",
            f"body: {obj.body_placeholder_count}",
            f"buttons: {buttons or 'none'}",
        ]
        return " · ".join(parts)

    @admin.display(description="sendable")
    def sendable(self, obj: WhatsAppTemplate) -> str:
        return obj.unsendable_reason or "yes"

    @admin.display(description="raw payload")
    def raw_payload(self, obj: WhatsAppTemplate) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.raw, indent=2, ensure_ascii=False))

    @admin.action(description="Sync now (the selected templates' senders)", permissions=["sync"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[WhatsAppTemplate]) -> None:
        senders = sorted(set(queryset.values_list("sender", flat=True)))
        for sender in senders:
            self._sync(request, sender)

    def _sync(self, request: HttpRequest, sender: str) -> None:
        try:
            result = templates_sync(sender=sender)
        except (TemplateSyncError, InvalidSender) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Sender {result.sender}: {result.summary()}", messages.SUCCESS)
        for error in result.errors:
            self.message_user(request, f"Sender {result.sender}: skipped {error}", messages.WARNING)

    def get_urls(self) -> list[URLPattern]:
        sync = self.admin_site.admin_view(require_POST(self.sync_default_view))
        return [path("sync/", sync, name="whatsapp_whatsapptemplate_sync"), *super().get_urls()]

    def sync_default_view(self, request: HttpRequest) -> HttpResponseRedirect:
        """Sync the default sender (works on an empty table, where actions cannot)."""
        if not self.has_sync_permission(request):
            raise PermissionDenied
        self._sync(request, settings.INFOBIP_WHATSAPP_SENDER)
        return HttpResponseRedirect(reverse("admin:whatsapp_whatsapptemplate_changelist"))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "can_sync": self.has_sync_permission(request),
            "default_sender": settings.INFOBIP_WHATSAPP_SENDER,
        }
        return super().changelist_view(request, extra_context)
