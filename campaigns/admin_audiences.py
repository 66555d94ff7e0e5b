"""Admin for segments (#17): rules edited as JSON, checked on save, with the live count."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms import ModelForm

from campaigns.models import Segment
from campaigns.segments import SegmentError, segment_count, segment_rules_check


class SegmentForm(ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description", "rules"]

    def clean_rules(self):
        rules = self.cleaned_data["rules"]
        if problems := segment_rules_check(rules):
            raise ValidationError(problems)
        return rules


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ["name", "description", "updated_at"]
    search_fields = ["name"]
    readonly_fields = ["contacts_now"]

    @admin.display(description="Contacts now")
    def contacts_now(self, obj: Segment) -> str:
        if obj.pk is None:
            return "—"
        try:
            return f"{segment_count(segment=obj):,}"
        except SegmentError as exc:
            return f"cannot count: {exc}"
