"""Infobip admin: raw webhook events (replayable), unknown reports, inbound messages and a
per-contact conversation, clicks, and the report-flow health the sweeper records.

Everything here is read-only: it comes from Infobip. The one write is "Reprocess", which goes
through infobip.processing (idempotent). No page shows the webhook token.
"""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from campaigns.models import Message
from contacts.models import Contact
from infobip.models import Click, InboundMessage, PendingReport, ReportHealth, WebhookEvent
from infobip.processing import events_reprocess

CONVERSATION_LIMIT = 200


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by Herald from what Infobip sent: viewable, never edited by hand."""

    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class PendingInline(admin.TabularInline):
    model = PendingReport
    extra = 0
    can_delete = False
    fields = ["index", "kind", "message_id", "attempts", "next_attempt_at", "flagged"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
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
        except ValueError:
            text = obj.body
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", text[:200_000])

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        # The rows stay read-only; replaying them is for whoever holds the change permission.
        return request.user.has_perm("infobip.change_webhookevent")

    @admin.action(description="Reprocess selected events (idempotent)", permissions=["reprocess"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("id", flat=True)[:5000])
        result = events_reprocess(event_ids=ids)
        level = messages.WARNING if result.failed else messages.SUCCESS
        self.message_user(
            request,
            f"Reprocessed {len(ids)} events: {result.events} processed, "
            f"{result.duplicates} duplicates, {result.failed} failed.",
            level,
        )


@admin.register(PendingReport)
class PendingReportAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "kind", "event", "first_seen_at", "attempts", "flagged"]
    list_filter = ["flagged", "kind"]
    search_fields = ["=message_id"]
    list_select_related = ["event"]


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = [
        "received_at",
        "channel",
        "from_number",
        "contact_link",
        "message_type",
        "short_text",
        "keyword_action",
        "reply_status",
    ]
    list_filter = ["channel", "keyword_action", "reply_status", "message_type", "received_at"]
    search_fields = ["=from_number", "text", "=infobip_message_id"]
    list_select_related = ["contact"]
    raw_id_fields = ["contact", "event"]

    @admin.display(description="text")
    def short_text(self, obj: InboundMessage) -> str:
        return obj.text[:80]

    @admin.display(description="contact")
    def contact_link(self, obj: InboundMessage) -> str:
        if not obj.contact_id:
            return "-"
        url = reverse("admin:infobip_conversation", args=[obj.contact_id])
        return format_html('<a href="{}">{} (conversation)</a>', url, obj.contact.phone)

    def get_urls(self):
        view = self.admin_site.admin_view(self.conversation_view)
        return [
            path("conversation/<int:contact_id>/", view, name="infobip_conversation"),
            *super().get_urls(),
        ]

    def conversation_view(self, request: HttpRequest, contact_id: int) -> HttpResponse:
        """Outbound ledger messages, inbound messages and keyword replies of one contact."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        contact = get_object_or_404(Contact, pk=contact_id)
        entries = conversation(contact=contact, limit=CONVERSATION_LIMIT)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Conversation with {contact}",
            "contact": contact,
            "entries": entries,
            "limit": CONVERSATION_LIMIT,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/infobip/conversation.html", context)


def conversation(*, contact: Contact, limit: int) -> list[dict]:
    """The latest `limit` outbound and inbound messages of a contact, oldest first."""
    outbound = (
        Message.objects.filter(contact=contact)
        .select_related("campaign")
        .order_by("-created_at")[:limit]
    )
    inbound = InboundMessage.objects.filter(contact=contact).order_by("-received_at")[:limit]
    entries = []
    for m in outbound:
        entries.append(
            {
                "at": m.claimed_at or m.created_at,
                "direction": "out",
                "channel": m.channel,
                "text": m.text or (m.template_values and "(template)") or "",
                "detail": f"{m.campaign.name} · {m.state}"
                + (f" · {m.status_name}" if m.status_name else ""),
            }
        )
    for m in inbound:
        entries.append(
            {
                "at": m.received_at,
                "direction": "in",
                "channel": m.channel,
                "text": m.text or f"({m.message_type})",
                "detail": m.message_type + (f" · {m.keyword_action}" if m.keyword_action else ""),
                "media_url": m.media_url,
            }
        )
        if m.reply_text:
            entries.append(
                {
                    "at": m.reply_sent_at or m.received_at,
                    "direction": "out",
                    "channel": m.channel,
                    "text": m.reply_text,
                    "detail": f"keyword reply · {m.reply_status}",
                }
            )
    entries.sort(key=lambda e: e["at"])
    return entries


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
