"""One error shape for every answer under /api/: `{"error": {"code", "message", "fields"}}`.

`fields` maps a field path (`contacts.3.phone`, `to.0`) to its messages, so a client can point
at the exact input that was refused. 4xx and 5xx alike, from DRF's views and from Django's own
handlers (`handler400` … `handler500` in config/urls.py) for API paths; an outage of the
database or of the broker is a 503 with `Retry-After`, never an HTML 500.
"""

import logging
import sys
from typing import Any

import redis
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from kombu.exceptions import OperationalError as BrokerError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from campaigns.services import CampaignError
from core.rules import Refused


class ApiError(exceptions.APIException):
    """A refusal with a code and an HTTP status chosen by the caller."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        status_code: int = 400,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.fields = fields or {}


def flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"a.0.b": ["message", ...]}."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = str(key) if key != "non_field_errors" else ""
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            out.update(flatten(value, path))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix: [str(item) for item in detail]} if detail else {}
        out = {}
        for index, value in enumerate(detail):
            if value:
                out.update(flatten(value, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix: [str(detail)]}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The error document."""
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


logger = logging.getLogger(__name__)

# Seconds a client should wait before retrying after an outage answer (503).
RETRY_AFTER = 30


def outage(exc: BaseException) -> str | None:
    """What is down when `exc` is an outage (database or broker), else None."""
    if isinstance(exc, OperationalError | InterfaceError):
        return "the database is unavailable"
    if isinstance(exc, BrokerError | redis.ConnectionError | redis.TimeoutError):
        return "the task queue (broker) is unavailable"
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, reshaped; Django and campaign errors become 4xx instead of 500s."""
    if (down := outage(exc)) is not None:
        logger.error("API call refused, %s: %s", down, exc)
        body = error_body("unavailable", f"{down}; nothing was done, retry later")
        return Response(body, status=503, headers={"Retry-After": str(RETRY_AFTER)})
    if isinstance(exc, DjangoValidationError):
        exc = ApiError("; ".join(exc.messages), code="invalid")
    elif isinstance(exc, Refused):
        exc = ApiError(str(exc), code="permission_denied", status_code=403)
    elif isinstance(exc, CampaignError):
        exc = ApiError(str(exc), code="conflict", status_code=409)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        body = error_body(exc.code, str(exc.detail), exc.fields)
    elif isinstance(exc, exceptions.ValidationError):
        fields = flatten(exc.detail)
        first = next(iter(fields.items()), ("", ["invalid input"]))
        message = f"{first[0]}: {first[1][0]}" if first[0] else first[1][0]
        body = error_body("invalid", message, fields)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        body = error_body(code, str(exc.detail))
    else:  # pragma: no cover - DRF only handles APIException, Http404 and PermissionDenied
        body = error_body("error", str(exc))
    response.data = body
    return response


def not_found_body() -> Response:
    return Response(error_body("not_found", "not found"), status=status.HTTP_404_NOT_FOUND)


# --- Django's own error handlers (config/urls.py): the API's shape for API paths ------------


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _json(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """400: the API's shape under /api/, Django's page elsewhere."""
    if _is_api(request):
        return _json(400, "bad_request", "the request could not be read")
    return defaults.bad_request(request, exception or Exception())


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403: the API's shape under /api/, Herald's page elsewhere."""
    if _is_api(request):
        return _json(403, "permission_denied", "not allowed")
    return defaults.permission_denied(request, exception or Exception())


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: the API's shape under /api/, Django's page elsewhere."""
    if _is_api(request):
        return _json(404, "not_found", f"no such API path: {request.path}")
    return defaults.page_not_found(request, exception or Exception())


def handler500(request: HttpRequest) -> HttpResponse:
    """500 (503 for an outage): the API's shape under /api/, Django's page elsewhere."""
    if not _is_api(request):
        return defaults.server_error(request)
    exc = sys.exc_info()[1]
    if exc is not None and (down := outage(exc)) is not None:
        response = _json(503, "unavailable", f"{down}; retry later")
        response["Retry-After"] = str(RETRY_AFTER)
        return response
    return _json(500, "server_error", "an unexpected error; it was logged")
