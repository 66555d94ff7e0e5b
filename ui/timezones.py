"""Each person's time zone: their setting, else their browser's, else the server's.

Every UI page activates it (ui.access.page), so times are shown and datetime inputs are read in
the zone the page names. The browser's zone arrives in the `herald_tz` cookie (herald.js).
"""

import zoneinfo
from functools import lru_cache

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone

COOKIE = "herald_tz"


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone_for(request: HttpRequest) -> str | None:
    """The zone to show this request's pages in (None: the server's)."""
    from ui.models import UserPreference

    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        chosen = (
            UserPreference.objects.filter(user=user).values_list("time_zone", flat=True).first()
        )
        if chosen:
            return chosen
    browser = request.COOKIES.get(COOKIE, "")[:64]
    return browser if browser in known_zones() else None


def activate_for(request: HttpRequest) -> None:
    """Activate the request's zone for rendering and for reading typed times."""
    zone = zone_for(request)
    if zone:
        timezone.activate(zoneinfo.ZoneInfo(zone))
    else:
        timezone.deactivate()


def user_time_zone_set(*, user: User, time_zone: str) -> str:
    """Save a person's time zone (blank: follow the browser); refuses unknown zones."""
    from ui.models import UserPreference

    time_zone = time_zone.strip()
    if time_zone and time_zone not in known_zones():
        raise ValidationError(f"{time_zone[:64]!r} is not a time zone (e.g. Europe/Madrid)")
    UserPreference.objects.update_or_create(user=user, defaults={"time_zone": time_zone})
    return time_zone
