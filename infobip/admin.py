"""Infobip admin: raw webhook events (replayable), unknown reports, clicks, and the report-flow
health the sweeper records (inbound messages and the conversation are in inbox/admin.py).

Everything here is read-only: it comes from Infobip. The one write is "Reprocess", which goes
through infobip.processing (idempotent). No page shows the webhook token.
"""

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from infobip.models import Click, PendingReport, ReportHealth, WebhookEvent
from infobip.processing import events_reprocess


class ReadOnlyAdmin(admin.ModelAdmin[Any]):  # each subclass registers its model
    """Rows written by Herald from what Infobip sent: viewable, never edited by hand."""

    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


PENDING_FIELDS = ("index", "kind", "message_id", "attempts", "next_attempt_at", "flagged")


class PendingInline(admin.TabularInline[PendingReport, WebhookEvent]):
    model = PendingReport
    extra = 0
    can_delete = False
    fields = PENDING_FIELDS
    readonly_fields = PENDING_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: WebhookEvent | None = None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "received_at", "items", "status", "attempts", "short_error"]
    list_filter = ["kind", "status", "received_at"]
    # Searching the bodies (e.g. for a messageId) scans them: fine within the retention period.
    search_fields = ["=content_hash", "body"]
    actions = ["reprocess"]
    readonly_fields = [
        "kind",
        "received_at",
        "status",
        "processed_at",
        "attempts",
        "items",
        "source_ip",
        "content_hash",
        "error",
        "pretty_body",
    ]
    exclude = ["body"]
    inlines = [PendingInline]

    @admin.display(description="error")
    def short_error(self, obj: WebhookEvent) -> str:
        return obj.error.strip().splitlines()[-1][:120] if obj.error else ""

    @admin.display(description="body")
    def pretty_body(self, obj: WebhookEvent) -> str:
        try:
            text = json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):  # whatever was stored, the page still answers
            text = obj.body
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", text[:200_000])

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        # The rows stay read-only; replaying them is for whoever holds the change permission.
        return request.user.has_perm("infobip.change_webhookevent")

    @admin.action(description="Reprocess selected events (idempotent)", permissions=["reprocess"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        ids = list(queryset.values_list("id", flat=True)[:5000])
        result = events_reprocess(event_ids=ids)
        level = messages.WARNING if result.failed or result.bad_items else messages.SUCCESS
        self.message_user(
            request,
            f"Reprocessed {len(ids)} events: {result.events} processed, "
            f"{result.duplicates} duplicates, {result.failed} failed, "
            f"{result.bad_items} items skipped (listed in each event's error).",
            level,
        )


@admin.register(PendingReport)
class PendingReportAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "kind", "event", "first_seen_at", "attempts", "flagged"]
    list_filter = ["flagged", "kind"]
    search_fields = ["=message_id"]
    list_select_related = ["event"]


@admin.register(Click)
class ClickAdmin(ReadOnlyAdmin):
    list_display = ["clicked_at", "campaign", "recipient", "url", "device_type", "country"]
    list_filter = ["campaign"]
    search_fields = ["=recipient", "url", "=infobip_message_id"]
    raw_id_fields = ["event", "campaign", "message"]
    list_select_related = ["campaign"]


@admin.register(ReportHealth)
class ReportHealthAdmin(ReadOnlyAdmin):
    list_display = [
        "measured_at",
        "missing_reports",
        "lag_seconds",
        "last_report_push_at",
        "pulled",
        "expired",
        "backlog",
        "failed_events",
        "pending_unknown",
        "flagged_unknown",
    ]
    date_hierarchy = "measured_at"
