"""A person's own settings: the time zone pages show and read times in, their test numbers."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from campaigns.testsend import saved_number_add, saved_number_remove, saved_numbers_for, team_region
from core.params import param_int
from ui.access import AuthenticatedRequest, page
from ui.models import UserPreference
from ui.timezones import COOKIE, known_zones, user_time_zone_set


@page()
def preferences(request: AuthenticatedRequest) -> HttpResponse:
    current = UserPreference.objects.filter(user=request.user).values_list("time_zone", flat=True)
    chosen = current.first() or ""
    error = ""
    if request.method == "POST":
        chosen = request.POST.get("time_zone", "")[:64]
        try:
            user_time_zone_set(user=request.user, time_zone=chosen)
        except ValidationError as exc:
            error = "; ".join(exc.messages)
        else:
            messages.success(
                request,
                f"Times are now shown in {chosen}." if chosen else "Times follow your browser.",
            )
            return redirect("ui:preferences")
    context = {
        "zones": sorted(known_zones()),
        "chosen": chosen,
        "browser": request.COOKIES.get(COOKIE, "")[:64],
        "error": error,
        **_numbers_context(request),
    }
    return render(request, "ui/preferences.html", context, status=400 if error else 200)


def _numbers_context(request: AuthenticatedRequest, **extra: object) -> dict[str, Any]:
    return {"saved_numbers": saved_numbers_for(request.user), "region": team_region(), **extra}


@require_POST
@page()
def test_numbers(request: AuthenticatedRequest) -> HttpResponse:
    """Add (`phone`, `label`) or remove (`remove` = id) one of the person's test numbers."""
    remove = param_int(request.POST.get("remove", ""))
    try:
        if remove is not None:
            phone = saved_number_remove(user=request.user, number_id=remove)
            messages.success(request, f"{phone} removed from your test numbers.")
        else:
            saved = saved_number_add(
                user=request.user,
                raw=request.POST.get("phone", ""),
                label=request.POST.get("label", ""),
            )
            messages.success(request, f"{saved.phone} is one of your test numbers.")
    except ValidationError as exc:
        problem = "; ".join(exc.messages)
        context = {
            "zones": sorted(known_zones()),
            "chosen": UserPreference.objects.filter(user=request.user)
            .values_list("time_zone", flat=True)
            .first()
            or "",
            "browser": request.COOKIES.get(COOKIE, "")[:64],
            **_numbers_context(
                request,
                number_error=problem[0].upper() + problem[1:] + ".",
                typed=request.POST.get("phone", "")[:40],
                typed_label=request.POST.get("label", "")[:60],
            ),
        }
        return render(request, "ui/preferences.html", context, status=400)
    return redirect(reverse("ui:preferences") + "#test-numbers")
