"""A paginator for admin lists over tables of millions of rows: never an unbounded COUNT(*)."""

from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property


class LargeTablePaginator(Paginator):
    """Unfiltered lists use PostgreSQL's row estimate; filtered lists count at most CAP rows.

    show_full_result_count avoids the admin's second count; this avoids scanning millions of
    rows for the page count itself (the last page numbers are then approximate).
    """

    ESTIMATE_ABOVE = 100_000
    CAP = 10_000

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if query is None:
            return super().count
        if connection.vendor == "postgresql" and not query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [self.object_list.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > self.ESTIMATE_ABOVE:
                return int(row[0])
        # COUNT over a LIMITed subquery: cheap whatever the filter matches.
        return self.object_list[: self.CAP + 1].count()
