"""Refuse NUL characters in query strings and form fields with a 400.

PostgreSQL cannot store or compare a string containing NUL: psycopg raises ValueError deep in
a query, which would be a 500 for a hostile `?q=%00`. No legitimate Herald input contains one.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse


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


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in data.lists())
