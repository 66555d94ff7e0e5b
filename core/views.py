"""Operational endpoints."""

from django.db import connection
from django.http import HttpRequest, JsonResponse

from core.services import worker_is_alive


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: the database answers; says whether a worker is alive."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = True
    except Exception:
        database = False
    body = {"database": database, "worker": database and worker_is_alive()}
    return JsonResponse(body, status=200 if database else 503)
