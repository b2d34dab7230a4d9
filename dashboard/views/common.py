"""What dashboard views share."""

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PER_PAGE = 50


def paginate(request: HttpRequest, rows: QuerySet[Any], per_page: int = PER_PAGE) -> Page[Any]:
    """The page of ``rows`` that ``?page=`` asks for (the last one when it is past the end):
    two queries, a count and the page."""
    return Paginator(rows, per_page).get_page(request.GET.get("page"))
