"""Cursor pagination by id: stable under inserts, no COUNT over big tables."""

from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """`?cursor=` links, newest first by default; `page_size` up to 1,000."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 1000
