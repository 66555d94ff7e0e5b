"""Admin for attribute types: declare a key a number, date or boolean (contacts/attributes.py)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from contacts.models import AttributeDefinition
from contacts.services import attribute_define, attribute_problems, attribute_usage


class AttributeDefinitionForm(forms.ModelForm[AttributeDefinition]):
    class Meta:
        model = AttributeDefinition
        fields = ["key", "label", "type"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        problems = attribute_problems(
            key=(data.get("key") or "").strip(),
            kind=data.get("type") or "",
            label=data.get("label") or "",
        )
        if problems:
            raise ValidationError(problems)
        return data


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(admin.ModelAdmin[AttributeDefinition]):
    form = AttributeDefinitionForm
    list_display = ["key", "label", "type", "updated_at"]
    list_filter = ["type"]
    search_fields = ["key", "label"]
    readonly_fields = ["usage"]

    @admin.display(description="Values now")
    def usage(self, obj: AttributeDefinition) -> str:
        if obj.pk is None:
            return "—"
        found = attribute_usage(key=obj.key, kind=obj.type)
        text = f"{found.with_value:,} contacts have a value"
        if found.not_of_type:
            shown = ", ".join(repr(v) for v in found.examples)
            text += f"; {found.not_of_type:,} are not a {obj.type} and never match ({shown}…)"
        return text

    def save_model(
        self,
        request: HttpRequest,
        obj: AttributeDefinition,
        form: forms.ModelForm[AttributeDefinition],
        change: bool,
    ) -> None:
        saved = attribute_define(key=obj.key, kind=obj.type, label=obj.label, actor=request.user)
        obj.pk = saved.pk
