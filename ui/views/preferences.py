"""A person's own settings: the time zone pages show and read times in."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from ui.access import page
from ui.models import UserPreference
from ui.timezones import COOKIE, known_zones, user_time_zone_set


@page()
def preferences(request):
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
    }
    return render(request, "ui/preferences.html", context, status=400 if error else 200)
