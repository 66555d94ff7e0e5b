"""Campaigns admin: state, progress and counters; lifecycle actions; the ledger read-only."""

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from campaigns.admin_splits import SplitTestInline, VariantInline, decide_split
from campaigns.editing import campaign_archive, campaign_unarchive
from campaigns.erasure import ErasureError, contact_erase, contact_evidence
from campaigns.history import (
    HistoryError,
    campaign_history_archive_later,
    campaign_history_restore_later,
)
from campaigns.models import (
    ApprovalRequest,
    Campaign,
    CampaignTestSend,
    Message,
    MessageEvent,
    SavedTestNumber,
    SendBatch,
    Snippet,
)
from campaigns.permissions import APPROVE, SEND
from campaigns.services import (
    SNIPPET_TEXT_MAX,
    CampaignError,
    campaign_approve,
    campaign_cancel,
    campaign_launch,
    campaign_pause,
    campaign_resend_failed,
    campaign_resume,
    frequency_cap_override_audit,
    snippet_delete,
    snippet_save,
)
from contacts.admin import ContactAdmin
from contacts.models import Contact
from core.paginator import LargeTablePaginator
from core.rules import Refused, actor_user
from core.services import audit_record


def _each(
    modeladmin: admin.ModelAdmin[Campaign],
    request: HttpRequest,
    queryset: QuerySet[Campaign],
    action: Callable[..., Any],
    verb: str,
) -> None:
    """Run one service per campaign as the logged-in user; a refusal changes nothing."""
    done = 0
    for campaign in queryset:
        try:
            action(campaign=campaign, actor=request.user)
            done += 1
        except (CampaignError, Refused) as exc:
            modeladmin.message_user(request, f"{campaign}: {exc}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb} {done} campaign(s).", messages.SUCCESS)


# "send" and "approve" are has_send_permission / has_approve_permission below: the same
# permissions the services check, so a staff user without them does not even see the actions.
@admin.action(description="Launch (or schedule) selected campaigns", permissions=["send"])
def launch(
    modeladmin: admin.ModelAdmin[Campaign], request: HttpRequest, queryset: QuerySet[Campaign]
) -> None:
    _each(modeladmin, request, queryset, campaign_launch, "Launched")


@admin.action(description="Approve selected campaigns", permissions=["approve"])
def approve(
    modeladmin: admin.ModelAdmin[Campaign], request: HttpRequest, queryset: QuerySet[Campaign]
) -> None:
    _each(modeladmin, request, queryset, campaign_approve, "Approved")


@admin.action(description="Pause selected campaigns", permissions=["send"])
def pause(
    modeladmin: admin.ModelAdmin[Campaign], request: HttpRequest, queryset: QuerySet[Campaign]
) -> None:
    _each(modeladmin, request, queryset, campaign_pause, "Paused")


@admin.action(description="Resume selected campaigns", permissions=["send"])
def resume(
    modeladmin: admin.ModelAdmin[Campaign], request: HttpRequest, queryset: QuerySet[Campaign]
) -> None:
    _each(modeladmin, request, queryset, campaign_resume, "Resumed")


@admin.action(description="Cancel selected campaigns", permissions=["send"])
def cancel(
    modeladmin: admin.ModelAdmin[Campaign], request: HttpRequest, queryset: QuerySet[Campaign]
) -> None:
    _each(modeladmin, request, queryset, campaign_cancel, "Cancelled")


@admin.action(
    description="Resend to failed (new attempts, not permanent errors)", permissions=["send"]
)
def resend_failed(
    modeladmin: admin.ModelAdmin[Campaign], request: HttpRequest, queryset: QuerySet[Campaign]
) -> None:
    total = 0
    for campaign in queryset:
        try:
            total += campaign_resend_failed(campaign=campaign, actor=request.user)
        except (CampaignError, Refused) as exc:
            modeladmin.message_user(request, f"{campaign}: {exc}", messages.ERROR)
    modeladmin.message_user(request, f"Queued {total} new attempt(s).", messages.SUCCESS)


# "change": the permission campaign_archive / campaign_unarchive check themselves.
@admin.action(description="Archive selected campaigns", permissions=["change"])
def archive(
    modeladmin: admin.ModelAdmin[Campaign], request: HttpRequest, queryset: QuerySet[Campaign]
) -> None:
    _each(modeladmin, request, queryset, campaign_archive, "Archived")


@admin.action(description="Unarchive selected campaigns", permissions=["change"])
def unarchive(
    modeladmin: admin.ModelAdmin[Campaign], request: HttpRequest, queryset: QuerySet[Campaign]
) -> None:
    _each(modeladmin, request, queryset, campaign_unarchive, "Unarchived")


# The history archive (campaigns/history.py): the ledger to a file and back, in a worker (a
# million rows outlast a request); refusals are said here. "change": the services check it.
@admin.action(description="Archive history (ledger to a file)", permissions=["change"])
def archive_history(
    modeladmin: admin.ModelAdmin[Campaign], request: HttpRequest, queryset: QuerySet[Campaign]
) -> None:
    _later(modeladmin, request, queryset, campaign_history_archive_later, "archive")


@admin.action(description="Restore archived history", permissions=["change"])
def restore_history(
    modeladmin: admin.ModelAdmin[Campaign], request: HttpRequest, queryset: QuerySet[Campaign]
) -> None:
    _later(modeladmin, request, queryset, campaign_history_restore_later, "restore")


def _later(
    modeladmin: admin.ModelAdmin[Campaign],
    request: HttpRequest,
    queryset: QuerySet[Campaign],
    service: Callable[..., Any],
    verb: str,
) -> None:
    asked = 0
    for campaign in queryset:
        try:
            service(campaign=campaign, actor=request.user)
            asked += 1
        except (HistoryError, Refused) as exc:
            modeladmin.message_user(request, f"{campaign}: {exc}", messages.ERROR)
    if asked:
        modeladmin.message_user(
            request,
            f"History {verb} started for {asked} campaign(s): the campaign's page and "
            "“history” here say when it is done.",
            messages.SUCCESS,
        )


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin[Campaign]):
    list_display = [
        "name",
        "channel",
        "state",
        "progress",
        "recipients",
        "count_delivered",
        "count_undeliverable",
        "count_failed",
        "count_skipped",
        "failover_sent",
        "cost",
        "created_at",
        "history",
    ]
    list_filter = ["state", "channel", "failover_mode", "archived_at", "history_archived_at"]
    search_fields = ["name"]
    actions = [
        launch,
        approve,
        pause,
        resume,
        cancel,
        resend_failed,
        archive,
        unarchive,
        decide_split,
        archive_history,
        restore_history,
    ]
    filter_horizontal = ["lists", "exclude_lists"]
    inlines = [VariantInline, SplitTestInline]
    readonly_fields = [
        "state",
        "state_reason",
        "launched_at",
        "finished_at",
        "frozen_at",
        "last_batch_at",
        "recipients",
        "count_queued",
        "count_sending",
        "count_accepted",
        "count_delivered",
        "count_undeliverable",
        "count_expired",
        "count_rejected",
        "count_failed",
        "count_skipped",
        "failover_sent",
        "failover_delivered",
        "cost_amount",
        "cost_currency",
        "created_by",
        "created_at",
        "updated_at",
        "archived_at",
        "history_archived_at",
        "history_archive",
        "history_archive_sha256",
        "history_archive_messages",
        "history_archive_events",
        "history_figures",
    ]
    list_select_related = ["template"]
    show_full_result_count = False
    paginator = LargeTablePaginator

    @admin.display(description="progress")
    def progress(self, obj: Campaign) -> str:
        if not obj.recipients:
            return "—"
        handed = obj.recipients - obj.count_queued - obj.count_sending
        return format_html("{}%", round(100 * handed / obj.recipients))

    @admin.display(description="history", ordering="history_archived_at")
    def history(self, obj: Campaign) -> str:
        if obj.history_archived_at is None:
            return "live"
        return (
            f"archived {obj.history_archived_at:%Y-%m-%d} ({obj.history_archive_messages:,} rows)"
        )

    @admin.display(description="cost", ordering="cost_amount")
    def cost(self, obj: Campaign) -> str:
        return f"{obj.cost_amount:.4f} {obj.cost_currency}".strip()

    def has_send_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(SEND)

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(APPROVE)

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        # Lifting the frequency caps is the send permission's decision (campaigns.services).
        if not request.user.has_perm(SEND):
            fields.append("frequency_cap_override")
        return fields

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = actor_user(request.user)
        super().save_model(request, obj, form, change)
        if "frequency_cap_override" in form.changed_data:
            frequency_cap_override_audit(
                campaign=obj, actor=request.user, override=obj.frequency_cap_override
            )
        # Admin edits are audited like every other surface's (and void an approval: the
        # approval's fingerprint no longer matches, campaigns/approval.py).
        changed = ", ".join(form.changed_data)[:400] if change else ""
        audit_record(
            actor=request.user,
            action="edit" if change else "create",
            campaign=obj,
            detail=f"admin: {changed}" if changed else "admin",
        )


class MessageEventInline(admin.TabularInline[MessageEvent, Message]):
    model = MessageEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "from_state", "to_state", "status_name", "error_name", "detail")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SentAsFilter(admin.SimpleListFilter):
    """What a ledger row was sent as: a campaign's message, an inbox reply, or a one-off send
    of the API or the command line (the last two are one-off campaigns of their own)."""

    title = "sent as"
    parameter_name = "sent_as"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("campaign", "campaign message"),
            ("reply", "inbox reply"),
            ("transactional", "API or command-line send"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # Reverse one-to-ones of apps above campaigns/, by name: no import upwards.
        if self.value() == "reply":
            return queryset.filter(campaign__inbox_reply__isnull=False)
        if self.value() == "transactional":
            return queryset.filter(campaign__transactional__isnull=False)
        if self.value() == "campaign":
            return queryset.filter(
                campaign__inbox_reply__isnull=True, campaign__transactional__isnull=True
            )
        return queryset


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin[Message]):
    """The ledger: read-only, because only the engine may change a message's state."""

    list_display = [
        "phone",
        "campaign",
        "channel",
        "attempt",
        "state",
        "status_name",
        "error_name",
        "price",
        "parts",
        "created_at",
        "done_at",
    ]
    # No filter on error_name: its choices would be a DISTINCT over the whole ledger.
    list_filter = ["state", "channel", SentAsFilter, "error_permanent"]
    search_fields = ["phone", "=message_id", "campaign__name"]
    list_select_related = ["campaign"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    raw_id_fields = ["campaign", "contact", "replaces"]
    inlines = [MessageEventInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SendBatch)
class SendBatchAdmin(admin.ModelAdmin[SendBatch]):
    """Send batches: the ledger rows a sender holds; read-only (the engine and settler own them)."""

    list_display = ["id", "campaign", "state", "size", "claimed_at", "reason"]
    list_filter = ["state"]
    search_fields = ["=id", "=campaign__id", "campaign__name"]
    list_select_related = ["campaign"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    raw_id_fields = ["campaign"]

    @admin.display(description="rows in flight")
    def size(self, obj: SendBatch) -> int:
        return len(obj.ids) if isinstance(obj.ids, list) else 0

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SavedTestNumber)
class SavedTestNumberAdmin(admin.ModelAdmin[SavedTestNumber]):
    """People's own test numbers (each person manages theirs on their settings page)."""

    list_display = ["phone", "label", "user", "created_at"]
    search_fields = ["phone", "label", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(CampaignTestSend)
class CampaignTestSendAdmin(admin.ModelAdmin[CampaignTestSend]):
    """Test sends and what Infobip reported for each; read-only (the report writes them)."""

    list_display = ["sent_at", "campaign", "to", "sent_by", "state", "status_name", "done_at"]
    list_filter = ["state", "channel"]
    search_fields = ["to", "=message_id", "campaign__name", "sent_by__username"]
    list_select_related = ["campaign", "sent_by"]
    raw_id_fields = ["campaign", "sent_by"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# Segments (#17) live in their own module to keep this one small.
from campaigns import admin_audiences  # noqa: E402, F401


class PrivacyContactAdmin(ContactAdmin):
    """The contacts admin with the privacy actions, which need the ledger (campaigns' layer)."""

    actions = [*ContactAdmin.actions, "export_evidence", "erase_contacts"]

    @admin.action(
        description="Download consent history of selected contacts (JSON)", permissions=["view"]
    )
    def export_evidence(
        self, request: HttpRequest, queryset: QuerySet[Contact]
    ) -> HttpResponse | None:
        contacts = list(queryset[: EVIDENCE_MAX + 1])
        if len(contacts) > EVIDENCE_MAX:
            self.message_user(
                request, f"Choose at most {EVIDENCE_MAX} contacts to export.", messages.ERROR
            )
            return None
        document = [contact_evidence(contact=c) for c in contacts]
        for contact in contacts:
            audit_record(actor=request.user, action="contact_evidence", contact=contact)
        response = HttpResponse(
            json.dumps(document, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="contacts-evidence.json"'
        return response

    @admin.action(
        description="Erase selected contacts (forget them; cannot be undone)",
        permissions=["delete"],
    )
    def erase_contacts(
        self, request: HttpRequest, queryset: QuerySet[Contact]
    ) -> TemplateResponse | None:
        if queryset.count() > ERASE_MAX:
            self.message_user(
                request, f"Erase at most {ERASE_MAX} contacts at a time.", messages.ERROR
            )
            return None
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase contacts?",
                "contacts": queryset[:50],
                "count": queryset.count(),
                "ids": list(queryset.values_list("pk", flat=True)),
                "opts": self.model._meta,
                "action": "erase_contacts",
            }
            return TemplateResponse(request, "admin/campaigns/erase_confirmation.html", context)
        erased, refused = 0, []
        for contact in queryset:
            try:
                contact_erase(contact=contact, actor=request.user)
                erased += 1
            except ErasureError as exc:
                refused.append(f"{contact.phone}: {exc}")
        self.message_user(request, f"{erased} contact(s) erased.")
        for problem in refused[:20]:
            self.message_user(request, problem, messages.ERROR)
        return None


EVIDENCE_MAX = 100  # one JSON document in memory: keep it to what a person's request needs
ERASE_MAX = 1000  # each erasure is its own transaction; the confirmation lists every id
admin.site.unregister(Contact)
admin.site.register(Contact, PrivacyContactAdmin)


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin[ApprovalRequest]):
    """Who asked for which campaign's approval, and whether it is still open (read-only)."""

    list_display = ["campaign", "requested_by", "requested_at", "note", "closed_at"]
    list_filter = [("closed_at", admin.EmptyFieldListFilter)]
    search_fields = ["campaign__name", "note"]
    list_select_related = ["campaign", "requested_by"]
    readonly_fields = ["campaign", "requested_by", "requested_at", "note", "closed_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # asked through campaign_approval_request, on every surface


class SnippetForm(forms.ModelForm[Snippet]):
    """The snippet_save checks at the field (a refusal there would otherwise be a 500)."""

    class Meta:
        model = Snippet
        fields = ["name", "text"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        text = (data.get("text") or "").strip()
        if len(text) > SNIPPET_TEXT_MAX:
            self.add_error("text", f"a snippet holds up to {SNIPPET_TEXT_MAX:,} characters")
        name = (data.get("name") or "").strip()
        clash = Snippet.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if name and clash.exists():
            self.add_error("name", f"a snippet named “{name}” exists already")
        return data


@admin.register(Snippet)
class SnippetAdmin(admin.ModelAdmin[Snippet]):
    """Saved message snippets; saving goes through snippet_save (its checks and audit)."""

    form = SnippetForm
    list_display = ["name", "text", "created_by", "updated_at"]
    search_fields = ["name", "text"]
    readonly_fields = ["created_by", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Snippet, form: Any, change: bool) -> None:
        original = Snippet.objects.get(pk=obj.pk) if change else None
        snippet_save(name=obj.name, text=obj.text, actor=request.user, snippet=original)

    def delete_model(self, request: HttpRequest, obj: Snippet) -> None:
        snippet_delete(snippet=obj, actor=request.user)
