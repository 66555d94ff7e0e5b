"""Senders per country in the admin: saving and removing go through the services (checks, audit)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from channels.countries import country_name
from channels.models import Sender
from channels.senders import sender_clean, sender_remove, sender_save

FIELDS = ("dlt_entity_id", "dlt_telemarketer_id", "iys_brand_code", "kr_reseller_code")


class SenderForm(forms.ModelForm[Sender]):
    """The service's own checks (country code, sender per country, fields per channel)."""

    class Meta:
        model = Sender
        fields = ["medium", "country", "sender", *FIELDS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        instance = self.instance
        try:
            sender_clean(
                channel=data.get("medium") or instance.medium,
                country=data.get("country") or instance.country,
                sender=data.get("sender") or "",
                fields={name: data.get(name) for name in FIELDS},
            )
        except ValidationError as exc:
            for name, problems in exc.message_dict.items():
                field = "medium" if name == "channel" else name
                self.add_error(field if field in self.fields else None, problems)
        return data


@admin.register(Sender)
class SenderAdmin(admin.ModelAdmin[Sender]):
    """Who messages to each country come from, per medium; `*` for every other country."""

    form = SenderForm
    list_display = ["medium", "country", "country_label", "sender", "dlt_entity_id", "updated_at"]
    list_filter = ["medium"]
    search_fields = ["sender", "country", "dlt_entity_id"]
    ordering = ["medium", "country"]

    @admin.display(description="country name", ordering="country")
    def country_label(self, obj: Sender) -> str:
        return country_name(obj.country)

    def get_readonly_fields(self, request: HttpRequest, obj: Sender | None = None) -> list[str]:
        # A row is its (medium, country): change those by removing it and adding another.
        return ["medium", "country"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Sender, form: Any, change: bool) -> None:
        row, _ = sender_save(
            channel=obj.medium,
            country=obj.country,
            sender=obj.sender,
            actor=request.user,
            **{name: getattr(obj, name) for name in FIELDS},
        )
        obj.pk = row.pk

    def delete_model(self, request: HttpRequest, obj: Sender) -> None:
        sender_remove(sender=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Sender]) -> None:
        for row in queryset:
            sender_remove(sender=row, actor=request.user)
