"""Early refusals: NUL characters (any page), oversized API bodies (413 in the API's shape).

PostgreSQL cannot store or compare a string containing NUL: psycopg raises ValueError deep in
a query, which would be a 500 for a hostile `?q=%00`. No legitimate Herald input contains one.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.datastructures import MultiValueDict


class ApiBodyLimitMiddleware:
    """413 in the API's JSON error shape for an API body over DATA_UPLOAD_MAX_MEMORY_SIZE.

    Django refuses such a body only when something reads it, as a 400 HTML page; the API says
    what happened, in its own shape, before anything is read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and request.path.startswith("/api/"):
            raw = request.META.get("CONTENT_LENGTH") or "0"
            length = int(raw) if raw.isascii() and raw.isdigit() else 0
            if length > limit:
                message = f"the body is {length:,} bytes; at most {limit:,} are accepted"
                body = {"error": {"code": "too_large", "message": message, "fields": {}}}
                return JsonResponse(body, status=413)
        return self.get_response(request)


class RejectNulMiddleware:
    """400 for any request whose path, query or form data holds a NUL character."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or _has_nul(request.GET):
            return _bad_request(request, "NUL characters are not accepted")
        content_type = request.META.get("CONTENT_TYPE", "")
        # Webhooks read their raw body themselves (and never store form data): leave it unread.
        if (
            request.method == "POST"
            and not request.path.startswith("/infobip/")
            and content_type.startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")
            )
        ):
            try:
                if _has_nul(request.POST):
                    return _bad_request(request, "NUL characters are not accepted")
            except Exception:  # a malformed or oversized body: bad input, not a server error
                return _bad_request(request, "the form data could not be read")
        return self.get_response(request)


def _bad_request(request: HttpRequest, message: str) -> HttpResponse:
    # The REST API answers every 4xx in its one JSON error shape (docs/INTERFACE.md).
    if request.path.startswith("/api/"):
        body = {"error": {"code": "invalid", "message": message, "fields": {}}}
        return JsonResponse(body, status=400)
    return HttpResponseBadRequest(message)


def _has_nul(data: MultiValueDict[str, str]) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in data.lists())
