"""Admin for consent (#17): replies that may revoke it (decide by the due date), opt-in keywords."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from contacts.consent import opt_in_keyword_save
from contacts.models import OptInKeyword, RevocationReview
from contacts.services import ReviewError, revocation_review_resolve
from core.rules import Refused


@admin.register(RevocationReview)
class RevocationReviewAdmin(admin.ModelAdmin[RevocationReview]):
    list_display = ["due_on", "contact", "text", "language", "received_at", "resolution"]
    list_filter = ["resolution", "language"]
    ordering = ["resolved_at", "due_on", "id"]
    readonly_fields = [
        "contact",
        "inbound_id",
        "text",
        "language",
        "received_at",
        "due_on",
        "resolved_at",
        "resolution",
    ]
    actions = ["opt_out", "keep"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="It is a revocation: opt them out")
    def opt_out(self, request: HttpRequest, queryset: QuerySet[RevocationReview]) -> None:
        self._resolve(request, queryset, "opted_out")

    @admin.action(description="Not a revocation: keep them")
    def keep(self, request: HttpRequest, queryset: QuerySet[RevocationReview]) -> None:
        self._resolve(request, queryset, "kept")

    def _resolve(
        self, request: HttpRequest, queryset: QuerySet[RevocationReview], resolution: str
    ) -> None:
        # The UI's service: the same rule (change contacts), the same audit entry per review.
        done = 0
        for review in queryset.filter(resolved_at__isnull=True).select_related("contact"):
            try:
                revocation_review_resolve(review=review, resolution=resolution, actor=request.user)
            except (Refused, ReviewError) as exc:
                self.message_user(request, f"{review.contact.phone}: {exc}", messages.ERROR)
                continue
            done += 1
        words = "opted out" if resolution == "opted_out" else "kept"
        self.message_user(request, f"{done} {words}.", messages.SUCCESS)


@admin.register(OptInKeyword)
class OptInKeywordAdmin(admin.ModelAdmin[OptInKeyword]):
    """Opt-in keywords per number; saving through the service versions the wording."""

    list_display = [
        "keyword",
        "number",
        "contact_list",
        "channel",
        "double_opt_in",
        "active",
        "wording_version",
    ]
    list_filter = ["active", "double_opt_in", "channel"]
    readonly_fields = ["wording_version"]

    def save_model(
        self,
        request: HttpRequest,
        obj: OptInKeyword,
        form: forms.ModelForm[OptInKeyword],
        change: bool,
    ) -> None:
        opt_in_keyword_save(keyword=obj)
