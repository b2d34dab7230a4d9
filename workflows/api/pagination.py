from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response


class StandardPagination(PageNumberPagination):
    """``{"count", "next", "previous", "results"}``; ``?page_size=`` up to 200."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class DeferredJoinPaginator(Paginator):
    """Fetches a page in two steps: its primary keys first (an index-only scan past the
    offset), then only those rows with their joins, so a deep page does not join and read every
    row it skips."""

    def page(self, number: Any) -> Page:
        if not isinstance(self.object_list, QuerySet):
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=ids)} if ids else {}
        return Page([rows[pk] for pk in ids if pk in rows], number, self)


class _NewestFirstKeyset(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> tuple[str]:
        # Keyset pages follow the unique, never-null id whatever ?ordering= asks for.
        return ("-id",)


class PageOrCursorPagination(StandardPagination):
    """Page numbers with a count by default; ``?cursor=`` (empty for the first page) switches
    to keyset pages, newest first, ``{"next", "previous", "results"}`` without a count, whose
    cost does not grow with depth. Page numbers fetch deep pages by primary key first."""

    django_paginator_class = DeferredJoinPaginator

    def __init__(self) -> None:
        self.keyset: _NewestFirstKeyset | None = None

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        if _NewestFirstKeyset.cursor_query_param in request.query_params:
            self.keyset = _NewestFirstKeyset()
            return self.keyset.paginate_queryset(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        if self.keyset is not None:
            return self.keyset.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """As page numbers document it, but ``count`` is optional: keyset pages have none."""
        paginated = super().get_paginated_response_schema(schema)
        paginated["required"] = [name for name in paginated.get("required", []) if name != "count"]
        return paginated

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        keyset = _NewestFirstKeyset().get_schema_operation_parameters(view)
        cursor = [param for param in keyset if param["name"] == "cursor"]
        return [*super().get_schema_operation_parameters(view), *cursor]
