"""Middleware that must run before any view reads the request."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class RequestBodyLimitMiddleware:
    """Answer 413 to a request whose declared body is larger than REQUEST_BODY_MAX_BYTES.

    Bodies sent without a Content-Length are caught when read (``RequestDataTooBig``), by the
    API's exception handler.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length must be an integer."}, status=400)
        if length > settings.REQUEST_BODY_MAX_BYTES:
            return JsonResponse(
                {"detail": f"Request body exceeds {settings.REQUEST_BODY_MAX_BYTES} bytes."},
                status=413,
            )
        return self.get_response(request)
