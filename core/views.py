"""Operational endpoints."""

from django.db import connection
from django.http import HttpRequest, JsonResponse

from core.services import infobip_connection_state, worker_is_alive


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: the database answers; says whether a worker is alive."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = True
    except Exception:
        database = False
    body: dict[str, object] = {"database": database, "worker": database and worker_is_alive()}
    if database:
        # The last check (worker start, then every HERALD_INFOBIP_CHECK_INTERVAL s); informative,
        # not a liveness failure: Herald keeps accepting webhooks while Infobip is unreachable.
        body["infobip"] = infobip_connection_state()
    return JsonResponse(body, status=200 if database else 503)
