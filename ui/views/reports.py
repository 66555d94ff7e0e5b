"""Reports: trends over time and campaigns side by side, on the page and as CSV (issue 26 #11).

The figures come from campaigns.analytics, which the API and `manage.py report` read too.
"""

import itertools
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render

from campaigns.analytics import (
    COLUMNS,
    MAX_COMPARED,
    Figures,
    campaigns_figures,
    campaigns_trends,
    marketing_campaigns,
)
from core.csvsafe import csv_lines
from core.params import param_int
from ui.access import AuthenticatedRequest, page

PERIODS = [(7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "a year")]
BUCKETS = [("day", "per day"), ("week", "per week")]
CHOOSABLE = 100  # launched campaigns offered for the comparison


def _csv(name: str, header: list[str], rows: Iterable[list[Any]]) -> StreamingHttpResponse:
    lines = itertools.chain([header], rows)
    response = StreamingHttpResponse(
        itertools.chain(["\ufeff"], csv_lines(lines)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _cells(figures: Figures) -> list[Any]:
    data = figures.as_dict()
    return ["" if data[key] is None else data[key] for key, _label, _kind in COLUMNS]


@page("campaigns.view_campaign")
def reports(request: AuthenticatedRequest) -> HttpResponseBase:
    """Trends over the chosen period, and the comparison of the campaigns ticked below it."""
    days = param_int(request.GET.get("days", "")) or 30
    days = days if days in dict(PERIODS) else 30
    bucket = request.GET.get("bucket", "day")
    bucket = bucket if bucket in dict(BUCKETS) else "day"
    points = campaigns_trends(days=days, bucket=bucket)
    ids = [i for i in (param_int(v) for v in request.GET.getlist("ids")) if i is not None]
    compared = campaigns_figures(campaign_ids=ids) if ids else []
    if request.GET.get("format") == "csv":
        if request.GET.get("table") == "compare":
            rows = ([f.id, f.name, f.launched_at or "", f.currency, *_cells(f)] for f in compared)
            header = ["id", "name", "launched_at", "currency"] + [k for k, _, _ in COLUMNS]
            return _csv("campaign-comparison", header, rows)
        rows = ([p.start, p.campaigns, p.currency, *_cells(p)] for p in points)
        header = ["start", "campaigns", "currency"] + [k for k, _, _ in COLUMNS]
        return _csv(f"trends-{days}d-per-{bucket}", header, rows)
    chart = {
        "labels": [p.start.strftime("%d %b") for p in points],
        "datasets": [
            {"label": label, "data": [getattr(p, key) for p in points]}
            for key, label in (
                ("delivery_rate", "Delivery %"),
                ("click_rate", "Click %"),
                ("reply_rate", "Reply %"),
                ("opt_out_rate", "Opt-out %"),
            )
        ],
    }
    choices = marketing_campaigns().filter(launched_at__isnull=False).order_by("-launched_at")
    context = {
        "days": days,
        "bucket": bucket,
        "periods": PERIODS,
        "buckets": BUCKETS,
        "points": points,
        "launched_any": any(p.campaigns for p in points),
        "chart": chart,
        "columns": COLUMNS,
        "compared": compared,
        "ids": ids,
        "choices": choices.only("id", "name", "launched_at")[:CHOOSABLE],
        "max_compared": MAX_COMPARED,
    }
    return render(request, "ui/reports.html", context)
