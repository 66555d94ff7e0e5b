"""Contacts admin: search, filters, list and consent actions, consent history inline.

Every consent change made here goes through the services and is recorded as a ConsentEvent
with the acting user. Changelists never COUNT the whole table (show_full_result_count).
"""

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypedDict

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from contacts.models import ConsentEvent, ConsentSource, Contact, ContactList, ListMembership
from contacts.phones import PhoneChecker, PhoneError
from contacts.services import (
    contact_list_add,
    contact_list_remove,
    contacts_export_rows,
    contacts_opt_in,
    contacts_opt_out,
)
from core.admin_filters import indexed_filter
from core.csvsafe import csv_lines
from core.paginator import LargeTablePaginator

if TYPE_CHECKING:  # a typing-only package
    from django_stubs_ext import WithAnnotations

_PHONE_LIKE = re.compile(r"^[\d\s()+\-./]+$")


def _ids(queryset: QuerySet[Contact], chunk: int = 1000) -> Iterator[int]:
    """The selected contacts' ids, by keyset pages (safe while the actions update the rows)."""
    last = 0
    while ids := list(
        queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:chunk]
    ):
        yield from ids
        last = ids[-1]


class ContactActionForm(ActionForm):
    contact_list = forms.ModelChoiceField(
        ContactList.objects.all(), required=False, label="List (for add/remove)"
    )


class ContactAdminForm(forms.ModelForm[Contact]):
    """Validates and normalises the phone number to E.164 (international format required)."""

    # Wider than the column: people type spaces and brackets; clean_phone stores E.164.
    phone = forms.CharField(max_length=40, help_text="International format, e.g. +44 7400 123456")

    class Meta:
        model = Contact
        fields = ["phone", "first_name", "last_name", "language", "timezone", "attributes"]

    def clean_phone(self) -> str:
        try:
            self.phone_info = PhoneChecker().check(self.cleaned_data["phone"])
        except PhoneError as exc:
            raise forms.ValidationError(str(exc)) from None
        return self.phone_info.e164


class ListMembershipInline(admin.TabularInline[ListMembership, Contact]):
    model = ListMembership
    extra = 0
    autocomplete_fields = ["contact_list"]
    readonly_fields = ["added_at"]


class ConsentEventInline(admin.TabularInline[ConsentEvent, Contact]):
    """The consent history, newest first; read-only (changes go through the actions)."""

    model = ConsentEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "action", "source", "channel", "note", "actor")
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    verbose_name_plural = "Consent history"

    def has_add_permission(self, request: HttpRequest, obj: Contact | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Contact | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsentEvent]:
        return super().get_queryset(request).select_related("actor")


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin[Contact]):
    form = ContactAdminForm
    action_form = ContactActionForm
    list_display = [
        "phone",
        "first_name",
        "last_name",
        "country",
        "language",
        "opted_out",
        "opted_out_source",
        "created_at",
    ]
    # country and language: index skip scans, not the admin's DISTINCT over every contact.
    list_filter = [
        "lists",
        indexed_filter("country", "country"),
        indexed_filter("language", "language"),
        "opted_out",
        "opted_out_source",
    ]
    search_fields = ["phone", "first_name", "last_name"]
    search_help_text = "Phone (any format with country code, or its digits) or name."
    show_full_result_count = False  # no COUNT(*) over millions of contacts per page view
    paginator = LargeTablePaginator
    list_per_page = 100
    ordering = ["-id"]
    readonly_fields = [
        "country",
        "opted_out",
        "opted_out_at",
        "opted_out_source",
        "opted_out_channel",
        "whatsapp_last_inbound_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["phone", "first_name", "last_name", "language", "timezone",
                           "country", "attributes"]}),
        ("Consent", {"fields": ["opted_out", "opted_out_at", "opted_out_source",
                                "opted_out_channel"]}),
        ("Activity", {"fields": ["whatsapp_last_inbound_at", "created_at", "updated_at"]}),
    ]  # fmt: skip
    inlines = [ListMembershipInline, ConsentEventInline]
    actions = ["add_to_list", "remove_from_list", "opt_out", "opt_in", "export_csv"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Contact], search_term: str
    ) -> tuple[QuerySet[Contact], bool]:
        filtered = queryset  # the list filters are applied already; keep them for the OR below
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        digits = re.sub(r"\D", "", term)
        if _PHONE_LIKE.match(term) and len(digits) >= 6:
            # "+44 7400 123456" → exact E.164; "07400 123456" → its digits without the trunk 0.
            extra = Q(phone__contains=digits.lstrip("0"))
            with contextlib.suppress(PhoneError):
                extra |= Q(phone=PhoneChecker().check(term).e164)
            queryset |= filtered.filter(extra)
        return queryset, may_have_duplicates

    def save_model(
        self, request: HttpRequest, obj: Contact, form: forms.ModelForm[Contact], change: bool
    ) -> None:
        info = getattr(form, "phone_info", None)
        if info is not None:
            obj.country = info.country
            obj.timezone = obj.timezone or info.timezone
        super().save_model(request, obj, form, change)

    def _chosen_list(self, request: HttpRequest) -> ContactList | None:
        field = ContactActionForm.base_fields["contact_list"]
        try:
            contact_list: ContactList | None = field.clean(request.POST.get("contact_list"))
        except ValidationError:
            contact_list = None
        if contact_list is None:
            self.message_user(request, "Choose a list first.", messages.ERROR)
        return contact_list

    @admin.action(description="Add selected contacts to the chosen list", permissions=["change"])
    def add_to_list(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        if contact_list := self._chosen_list(request):
            added = contact_list_add(contact_list=contact_list, contact_ids=_ids(queryset))
            self.message_user(request, f"{added} contact(s) added to {contact_list}.")

    @admin.action(
        description="Remove selected contacts from the chosen list", permissions=["change"]
    )
    def remove_from_list(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        if contact_list := self._chosen_list(request):
            removed = contact_list_remove(contact_list=contact_list, contact_ids=_ids(queryset))
            self.message_user(request, f"{removed} contact(s) removed from {contact_list}.")

    @admin.action(description="Opt out selected contacts (all channels)", permissions=["change"])
    def opt_out(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        changed = contacts_opt_out(
            contact_ids=_ids(queryset),
            source=ConsentSource.ADMIN,
            note="admin action",
            actor=request.user,
        )
        self.message_user(request, f"{changed} contact(s) opted out.")

    @admin.action(description="Opt selected contacts back in", permissions=["change"])
    def opt_in(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        changed = contacts_opt_in(
            contact_ids=_ids(queryset),
            source=ConsentSource.ADMIN,
            note="admin action",
            actor=request.user,
        )
        self.message_user(request, f"{changed} contact(s) opted back in.")

    @admin.action(description="Export selected contacts to CSV", permissions=["view"])
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[Contact]
    ) -> StreamingHttpResponse:
        response = StreamingHttpResponse(
            csv_lines(contacts_export_rows(queryset=queryset)),
            content_type="text/csv; charset=utf-8",
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="contacts-{stamp}.csv"'
        return response


class _Counted(TypedDict):
    member_count: int  # annotated by ContactListAdmin.get_queryset


@admin.register(ContactList)
class ContactListAdmin(admin.ModelAdmin[ContactList]):
    list_display = ["name", "description", "member_count", "created_at"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContactList]:
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, obj: "WithAnnotations[ContactList, _Counted]") -> int:
        return obj.member_count


@admin.register(ConsentEvent)
class ConsentEventAdmin(admin.ModelAdmin[ConsentEvent]):
    """The audit trail across contacts; read-only."""

    list_display = ["created_at", "contact", "action", "source", "channel", "actor", "note"]
    list_filter = ["action", "source", "channel"]
    list_select_related = ["contact", "actor"]
    search_fields = ["=contact__phone"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    ordering = ["-id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ConsentEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ConsentEvent | None = None) -> bool:
        return False


# Revocation reviews (#17) live in their own module to keep this one small.
from contacts import admin_attributes, admin_reviews  # noqa: E402, F401
