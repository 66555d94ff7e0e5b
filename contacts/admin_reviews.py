"""Admin for consent (#17): replies that may revoke it (decide by the due date), opt-in keywords."""

from django.contrib import admin, messages
from django.utils import timezone

from contacts.consent import opt_in_keyword_save
from contacts.models import ConsentSource, OptInKeyword, RevocationReview
from contacts.services import contacts_opt_out


@admin.register(RevocationReview)
class RevocationReviewAdmin(admin.ModelAdmin):
    list_display = ["due_on", "contact", "text", "language", "received_at", "resolution"]
    list_filter = ["resolution", "language"]
    ordering = ["resolved_at", "due_on", "id"]
    readonly_fields = ["contact", "inbound_id", "text", "language", "received_at", "due_on",
                       "resolved_at", "resolution"]  # fmt: skip
    actions = ["opt_out", "keep"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="It is a revocation: opt them out")
    def opt_out(self, request, queryset) -> None:
        open_ = queryset.filter(resolved_at__isnull=True)
        reviews = list(open_)
        contacts_opt_out(
            contact_ids=[r.contact_id for r in reviews], source=ConsentSource.PHRASE,
            note="reply reviewed as a revocation", actor=request.user,
        )  # fmt: skip
        n = open_.update(resolved_at=timezone.now(), resolution="opted_out")
        self.message_user(request, f"{n} opted out.", messages.SUCCESS)

    @admin.action(description="Not a revocation: keep them")
    def keep(self, request, queryset) -> None:
        n = queryset.filter(resolved_at__isnull=True).update(
            resolved_at=timezone.now(), resolution="kept"
        )
        self.message_user(request, f"{n} kept.", messages.SUCCESS)


@admin.register(OptInKeyword)
class OptInKeywordAdmin(admin.ModelAdmin):
    """Opt-in keywords per number; saving through the service versions the wording."""

    list_display = ["keyword", "number", "contact_list", "channel", "double_opt_in", "active",
                    "wording_version"]  # fmt: skip
    list_filter = ["active", "double_opt_in", "channel"]
    readonly_fields = ["wording_version"]

    def save_model(self, request, obj, form, change) -> None:
        opt_in_keyword_save(keyword=obj)
