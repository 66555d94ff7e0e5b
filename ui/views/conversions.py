"""Conversions: what shops reported, and what each was credited to (and why)."""

import itertools
from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render

from conversions.export import conversions_export_rows
from conversions.models import Credit
from conversions.services import conversion_explain
from core.csvsafe import csv_lines
from core.params import param_int
from ui.access import AuthenticatedRequest, page
from ui.services import audit_record

PAGE = 100


def _filters(params: QueryDict) -> dict[str, Any]:
    return {"campaign": param_int(params.get("campaign", "")), "q": params.get("q", "")[:200]}


@page("conversions.view_conversion")
def conversion_list(request: AuthenticatedRequest) -> HttpResponse:
    """The latest conversions with their credit; an order id shows its explanation."""
    filters = _filters(request.GET)
    order = filters["q"].strip().replace("\x00", "")
    found = conversion_explain(order_id=order) if order else None
    credits = Credit.objects.filter(current=True).select_related(
        "conversion", "conversion__contact"
    )
    if filters["campaign"] is not None:
        credits = credits.filter(campaign_id=filters["campaign"])
    rows = list(credits.order_by("-conversion__occurred_at", "-id")[:PAGE])
    query = urlencode({k: v for k, v in (("campaign", filters["campaign"]),) if v is not None})
    context = {"rows": rows, "found": found, "order": order, "filters": filters, "query": query}
    return render(request, "ui/conversions.html", context)


@page("conversions.view_conversion")
def conversions_export_csv(request: AuthenticatedRequest) -> StreamingHttpResponse:
    """Conversions with their credit as CSV (filtered by campaign), UTF-8 with a BOM."""
    campaign = param_int(request.GET.get("campaign", ""))
    audit_record(actor=request.user, action="export", detail=f"conversions campaign={campaign}")
    rows = conversions_export_rows(campaign_id=campaign)
    # A BOM so spreadsheets read UTF-8; cells defused by core.csvsafe (no formulas).
    response = StreamingHttpResponse(
        itertools.chain(["\ufeff"], csv_lines(rows)), content_type="text/csv; charset=utf-8"
    )
    name = f"conversions-{campaign}.csv" if campaign else "conversions.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
