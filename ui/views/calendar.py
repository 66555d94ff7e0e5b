"""The calendar of campaigns: what is scheduled, and what went out, day by day (issue 26 #13).

A month grid on wide screens; on a phone the table stacks into one card per week and empty
days are left out (herald.css). Times are in the person's own zone (ui.timezones).
"""

import calendar
import datetime as dt

from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from campaigns.analytics import marketing_campaigns
from ui.access import AuthenticatedRequest, page


def _month(value: str, today: dt.date) -> dt.date:
    try:
        year, month = (int(part) for part in value.split("-", 1))
        return dt.date(year, month, 1) if 2000 <= year <= 2100 else today.replace(day=1)
    except ValueError:
        return today.replace(day=1)


@page("campaigns.view_campaign")
def campaign_calendar(request: AuthenticatedRequest) -> HttpResponse:
    """One month: each day's scheduled sends and launches, with links to the campaigns."""
    today = timezone.localdate()
    first = _month(request.GET.get("month", "")[:7], today)
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    start = timezone.make_aware(dt.datetime.combine(weeks[0][0], dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(weeks[-1][-1], dt.time.max))
    campaigns = (
        marketing_campaigns()
        .filter(Q(send_at__range=(start, end)) | Q(launched_at__range=(start, end)))
        .only("id", "name", "state", "channel", "send_at", "launched_at")
        .order_by("send_at", "launched_at")
    )
    by_day: dict[dt.date, list[dict[str, object]]] = {}
    for c in campaigns[:500]:
        when = c.launched_at or c.send_at
        assert when is not None
        local = timezone.localtime(when)
        by_day.setdefault(local.date(), []).append({"campaign": c, "at": local})
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    context = {
        "month": first,
        "weeks": [
            [
                {
                    "date": d,
                    "items": by_day.get(d, []),
                    "other": d.month != first.month,
                    "today": d == today,
                }
                for d in week
            ]
            for week in weeks
        ],
        "previous": previous.strftime("%Y-%m"),
        "following": following.strftime("%Y-%m"),
        "this_month": today.strftime("%Y-%m"),
        "weekdays": [calendar.day_abbr[i] for i in range(7)],
    }
    return render(request, "ui/calendar.html", context)
