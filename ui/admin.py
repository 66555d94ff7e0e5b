"""Admin for contact imports: who imported which file, read how, with which column mapping."""

import json

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from ui.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin[ImportJob]):
    """Read-only: an import is started from the browser, the command line or the API."""

    list_display = [
        "original_name",
        "status",
        "created_by",
        "created_at",
        "encoding",
        "created",
        "updated",
        "rejected",
    ]
    list_filter = ["status"]
    search_fields = ["original_name", "list_name", "created_by__username"]
    readonly_fields = [
        "original_name",
        "status",
        "created_by",
        "created_at",
        "finished_at",
        "list_name",
        "default_region",
        "allow_sequential",
        "encoding",
        "columns",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "error",
        "next_step",
    ]
    exclude = ["file", "mapping", "summary", "errors_file", "total", "processed"]

    @admin.display(description="Column mapping")
    def columns(self, obj: ImportJob) -> str:
        columns = (obj.mapping or {}).get("columns") if isinstance(obj.mapping, dict) else None
        return json.dumps(columns, indent=1, ensure_ascii=False) if columns else "—"

    @admin.display(description="In the browser")
    def next_step(self, obj: ImportJob) -> str:
        if obj.status == ImportJob.Status.MAPPING:
            url = reverse("ui:import_mapping", args=[obj.pk])
            return format_html('<a href="{}">Map the columns and import</a>', url)
        return format_html(
            '<a href="{}">The import\'s page</a>', reverse("ui:import", args=[obj.pk])
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ImportJob | None = None) -> bool:
        return False
