"""Cursor pagination by id: stable under inserts, no COUNT over big tables."""

from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from api.errors import ApiError


class IdCursorPagination(CursorPagination):
    """`?cursor=` links, newest first by default; `page_size` from 1 to 1,000.

    A cursor that is not one this API gave out, or a page size outside the range, is a 400
    naming the parameter (DRF answers a bad cursor with 404 and ignores a bad page size).
    """

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            return super().decode_cursor(request)
        except NotFound:
            message = "not a cursor this API gave out: use the `next` or `previous` link as is"
            raise ApiError(f"cursor: {message}", fields={"cursor": [message]}) from None

    def get_page_size(self, request: Request) -> int | None:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            message = f"a whole number from 1 to {self.max_page_size:,}"
            raise ApiError(f"page_size: {message}", fields={"page_size": [message]})
        return int(raw)
