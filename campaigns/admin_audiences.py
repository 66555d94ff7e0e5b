"""Admin for segments (#17, #26): rules edited as JSON, checked on save, with the live count.

The marketer's builder (the Segments page) writes the same JSON; saving here goes through
`segment_save` too, so attribute rules get their declared type and the change is audited.
"""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from campaigns.models import Segment
from campaigns.segments import (
    SegmentError,
    segment_count,
    segment_delete,
    segment_rules_check,
    segment_rules_normalize,
    segment_rules_summary,
    segment_save,
)


class SegmentForm(ModelForm[Segment]):
    class Meta:
        model = Segment
        fields = ["name", "description", "rules"]

    def clean_rules(self) -> dict[str, Any]:
        rules: dict[str, Any] = segment_rules_normalize(self.cleaned_data["rules"])
        if problems := segment_rules_check(rules):
            raise ValidationError(problems)
        return rules


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin[Segment]):
    form = SegmentForm
    list_display = ["name", "in_words", "updated_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["contacts_now", "builder"]

    @admin.display(description="Rules")
    def in_words(self, obj: Segment) -> str:
        return segment_rules_summary(obj.rules)[:200]

    @admin.display(description="Contacts now")
    def contacts_now(self, obj: Segment) -> str:
        if obj.pk is None:
            return "—"
        try:
            return f"{segment_count(segment=obj):,}"
        except SegmentError as exc:
            return f"cannot count: {exc}"

    @admin.display(description="Builder")
    def builder(self, obj: Segment) -> str:
        if obj.pk is None:
            return format_html('<a href="{}">Build a segment</a>', reverse("ui:segment_new"))
        return format_html(
            '<a href="{}">Edit in the builder</a>', reverse("ui:segment", args=[obj.pk])
        )

    def save_model(
        self, request: HttpRequest, obj: Segment, form: ModelForm[Segment], change: bool
    ) -> None:
        existing = Segment.objects.get(pk=obj.pk) if change else None
        saved = segment_save(
            name=obj.name,
            rules=obj.rules,
            description=obj.description,
            segment=existing,
            actor=request.user,
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Segment) -> None:
        try:
            segment_delete(segment=obj, actor=request.user)
        except SegmentError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        for segment in queryset:
            self.delete_model(request, segment)
