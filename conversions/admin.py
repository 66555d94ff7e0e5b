"""Admin: conversions with their credit, credits by touch and rule, the rule's versions.

Read-only: a conversion is recorded through conversions.services (the API, `manage.py
conversion record|import`), which checks it, stores it once per order and credits it; a
credit is the rule's decision and is never edited by hand.
"""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from conversions.models import AttributionRule, Conversion, Credit
from core.paginator import LargeTablePaginator


class ReadOnly(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CreditInline(admin.TabularInline[Credit, Conversion]):
    model = Credit
    extra = 0
    fields = ["current", "rule", "touch", "campaign", "variant", "message", "touch_at", "reason"]
    readonly_fields = [
        "current",
        "rule",
        "touch",
        "campaign",
        "variant",
        "message",
        "touch_at",
        "reason",
    ]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversion)
class ConversionAdmin(ReadOnly):
    list_display = [
        "order_id",
        "occurred_at",
        "contact",
        "phone",
        "value",
        "currency",
        "credit",
        "source",
        "forwarded_at",
    ]
    list_filter = [
        "source",
        "currency",
        "credits__touch",
        "occurred_at",
        ("forwarded_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["=order_id", "phone", "=coupon"]
    list_select_related = ["contact"]
    raw_id_fields = ["contact"]
    date_hierarchy = "occurred_at"
    inlines = [CreditInline]
    show_full_result_count = False
    paginator = LargeTablePaginator

    @admin.display(description="credited to")
    def credit(self, obj: Conversion) -> str:
        credit = next((c for c in obj.credits.all() if c.current), None)
        if credit is None or not credit.touch:
            return "—"
        variant = f" variant {credit.variant}" if credit.variant is not None else ""
        return f"campaign {credit.campaign_id}{variant} ({credit.get_touch_display().lower()})"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversion]:
        return super().get_queryset(request).prefetch_related("credits")


@admin.register(Credit)
class CreditAdmin(ReadOnly):
    list_display = [
        "conversion",
        "touch",
        "campaign",
        "variant",
        "touch_at",
        "rule",
        "current",
        "holdout_campaign",
    ]
    list_filter = ["touch", "current", "rule"]
    search_fields = ["=conversion__order_id", "=campaign__id"]
    list_select_related = ["conversion", "rule"]
    raw_id_fields = ["conversion", "message", "campaign", "holdout_campaign"]
    show_full_result_count = False
    paginator = LargeTablePaginator


@admin.register(AttributionRule)
class AttributionRuleAdmin(ReadOnly):
    list_display = ["__str__", "click_window", "reply_window", "delivery_window", "created_at"]
