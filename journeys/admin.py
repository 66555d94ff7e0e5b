"""Journeys admin: journeys with their counts and lifecycle actions; entries, steps, events."""

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from campaigns.permissions import SEND
from core.paginator import LargeTablePaginator
from core.rules import Refused
from journeys.models import EntryStep, Event, Journey, JourneyEntry, JourneyVersion
from journeys.services import (
    JourneyError,
    journey_activate,
    journey_archive,
    journey_pause,
    journey_resume,
    journey_status,
    journey_update,
    journey_validate,
)


def _each(
    modeladmin: admin.ModelAdmin[Journey],
    request: HttpRequest,
    queryset: QuerySet[Journey],
    action: Callable[..., Any],
    verb: str,
) -> None:
    """Run one service per journey as the logged-in user; a refusal changes nothing."""
    done = 0
    for journey in queryset:
        try:
            action(journey=journey, actor=request.user)
            done += 1
        except (JourneyError, Refused) as exc:
            modeladmin.message_user(request, f"{journey.name}: {exc}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb} {done} journey(s).", messages.SUCCESS)


@admin.action(description="Activate (the draft becomes the live version)", permissions=["send"])
def activate(
    modeladmin: admin.ModelAdmin[Journey], request: HttpRequest, queryset: QuerySet[Journey]
) -> None:
    _each(modeladmin, request, queryset, journey_activate, "Activated")


@admin.action(description="Pause (hold every wait and send)", permissions=["send"])
def pause(
    modeladmin: admin.ModelAdmin[Journey], request: HttpRequest, queryset: QuerySet[Journey]
) -> None:
    _each(modeladmin, request, queryset, journey_pause, "Paused")


@admin.action(description="Resume", permissions=["send"])
def resume(
    modeladmin: admin.ModelAdmin[Journey], request: HttpRequest, queryset: QuerySet[Journey]
) -> None:
    _each(modeladmin, request, queryset, journey_resume, "Resumed")


@admin.action(description="Archive, letting contacts in flight finish", permissions=["send"])
def archive_finish(
    modeladmin: admin.ModelAdmin[Journey], request: HttpRequest, queryset: QuerySet[Journey]
) -> None:
    def action(**kw: Any) -> None:
        journey_archive(mode="finish", **kw)

    _each(modeladmin, request, queryset, action, "Archived")


@admin.action(description="Archive and stop: contacts in flight leave now", permissions=["send"])
def archive_stop(
    modeladmin: admin.ModelAdmin[Journey], request: HttpRequest, queryset: QuerySet[Journey]
) -> None:
    def action(**kw: Any) -> None:
        journey_archive(mode="stop", **kw)

    _each(modeladmin, request, queryset, action, "Archived and stopped")


class JourneyForm(forms.ModelForm[Journey]):
    """The draft as JSON, checked like every surface checks it (problems listed on save)."""

    class Meta:
        model = Journey
        fields = ["draft"]

    def clean_draft(self) -> Any:
        draft = self.cleaned_data["draft"]
        if problems := journey_validate(definition=draft, journey=self.instance):
            raise forms.ValidationError(problems)
        return draft


class VersionInline(admin.TabularInline[JourneyVersion, Journey]):
    model = JourneyVersion
    fields = readonly_fields = ("number", "created_at", "created_by")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin[Journey]):
    form = JourneyForm
    list_display = ["name", "state", "trigger_type", "live_version", "activated_at"]
    list_filter = ["state", "trigger_type"]
    search_fields = ["name", "trigger_event", "trigger_keyword"]
    readonly_fields = [
        "name",
        "state",
        "state_reason",
        "live_version",
        "counts",
        "activated_at",
        "archived_at",
        "created_by",
    ]
    fields = [*readonly_fields, "draft"]
    inlines = [VersionInline]
    actions = [activate, pause, resume, archive_finish, archive_stop]

    def has_send_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(SEND)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created from a definition: the builder, the command or the API

    @admin.display(description="live version")
    def live_version(self, obj: Journey) -> str:
        return f"v{obj.version.number}" if obj.version else "-"

    @admin.display(description="counts per step")
    def counts(self, obj: Journey) -> str:
        status = journey_status(journey=obj)
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>entered {}</td><td>waiting {}</td>"
                "<td>sent {}</td><td>delayed {}</td></tr>",
                (
                    (s["id"], s["type"], s["entered"], s["waiting"], s["sent"], s["delayed"])
                    for s in status["steps"]
                ),
            ),
        )

    def save_model(self, request: HttpRequest, obj: Journey, form: Any, change: bool) -> None:
        journey_update(
            journey=obj, definition=form.cleaned_data["draft"], actor=request.user, strict=False
        )


class StepInline(admin.TabularInline[EntryStep, JourneyEntry]):
    model = EntryStep
    fields = readonly_fields = ("n", "step_id", "outcome", "detail", "message", "at")
    extra = 0
    can_delete = False
    ordering = ["n"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(JourneyEntry)
class JourneyEntryAdmin(admin.ModelAdmin[JourneyEntry]):
    list_display = [
        "id",
        "journey",
        "contact_phone",
        "key",
        "state",
        "step",
        "phase",
        "due_at",
        "exit_reason",
    ]
    list_filter = ["state", "exit_reason", "phase", "journey"]
    search_fields = ["contact__phone", "key"]
    list_select_related = ["journey", "contact"]
    paginator = LargeTablePaginator
    show_full_result_count = False
    inlines = [StepInline]
    readonly_fields = [f.name for f in JourneyEntry._meta.fields]

    @admin.display(description="contact")
    def contact_phone(self, obj: JourneyEntry) -> str:
        return obj.contact.phone

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin[Event]):
    list_display = ["id", "name", "contact_phone", "key", "occurred_at", "received_at"]
    list_filter = ["name"]
    search_fields = ["name", "key", "contact__phone", "external_id"]
    list_select_related = ["contact"]
    paginator = LargeTablePaginator
    show_full_result_count = False
    fields = readonly_fields = (
        "name",
        "contact",
        "key",
        "pretty_properties",
        "occurred_at",
        "received_at",
        "external_id",
        "source",
    )

    @admin.display(description="contact")
    def contact_phone(self, obj: Event) -> str:
        return obj.contact.phone

    @admin.display(description="properties")
    def pretty_properties(self, obj: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.properties, indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
