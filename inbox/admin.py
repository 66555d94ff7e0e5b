"""Inbox admin: inbound messages and a per-contact conversation (outbound ledger messages,
inbound messages and keyword replies together). Read-only: the rows come from Infobip."""

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from campaigns.models import Message
from contacts.models import Contact
from inbox.models import ConversationReply
from infobip.admin import ReadOnlyAdmin
from infobip.models import InboundMessage

CONVERSATION_LIMIT = 200


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
        if obj.contact is None:
            return "-"
        url = reverse("admin:infobip_conversation", args=[obj.contact_id])
        return format_html('<a href="{}">{} (conversation)</a>', url, obj.contact.phone)

    def get_urls(self) -> list[URLPattern]:
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


def conversation(*, contact: Contact, limit: int) -> list[dict[str, Any]]:
    """The latest `limit` outbound and inbound messages of a contact, oldest first."""
    outbound = (
        Message.objects.filter(contact=contact)
        .select_related("campaign")
        .order_by("-created_at")[:limit]
    )
    inbound = InboundMessage.objects.filter(contact=contact).order_by("-received_at")[:limit]
    entries: list[dict[str, Any]] = []
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
    for i in inbound:
        entries.append(
            {
                "at": i.received_at,
                "direction": "in",
                "channel": i.channel,
                "text": i.text or f"({i.message_type})",
                "detail": i.message_type + (f" · {i.keyword_action}" if i.keyword_action else ""),
                "media_url": i.media_url,
            }
        )
        if i.reply_text:
            entries.append(
                {
                    "at": i.reply_sent_at or i.received_at,
                    "direction": "out",
                    "channel": i.channel,
                    "text": i.reply_text,
                    "detail": f"keyword reply · {i.reply_status}",
                }
            )
    entries.sort(key=lambda e: e["at"])
    return entries


@admin.register(ConversationReply)
class ConversationReplyAdmin(ReadOnlyAdmin):
    """The replies people sent from the inbox (any surface), each with its ledger message:
    its delivery state is the message's (the ledger list filters "sent as: inbox reply")."""

    list_display = ["sent_at", "contact", "channel", "short_text", "sent_by", "message_link"]
    list_filter = ["channel", "sent_at"]
    search_fields = ["=contact__phone", "=message_id", "text"]
    list_select_related = ["contact", "sent_by"]
    raw_id_fields = ["contact", "campaign", "sent_by"]

    @admin.display(description="text")
    def short_text(self, obj: ConversationReply) -> str:
        return obj.text[:80]

    @admin.display(description="ledger message")
    def message_link(self, obj: ConversationReply) -> str:
        if not obj.campaign_id:
            return obj.status_name or "—"  # sent before replies went through the ledger
        url = reverse("admin:campaigns_message_changelist")
        return format_html('<a href="{}?q={}">{}</a>', url, obj.message_id, obj.message_id)
