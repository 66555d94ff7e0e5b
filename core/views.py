"""Operational endpoints."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from core.health import database_up, health_check


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Each part: database, broker, workers by queue, beat, Infobip; 503 if one is down."""
    health = health_check()
    return JsonResponse(health.as_dict(), status=200 if health.ok else 503)


@never_cache
def healthz_live(request: HttpRequest) -> JsonResponse:
    """For load balancers: this web process answers and reaches its database (503 if not).

    Not the whole /healthz/: with the broker, a worker or Infobip down the web process still
    accepts Infobip's pushes and API calls (it keeps them for later), so it stays in rotation.
    """
    up = database_up()
    return JsonResponse(
        {"web": "ok", "database": "ok" if up else "down"}, status=200 if up else 503
    )
