"""Error answers Django gives before any view runs (no route matched, an unreadable request, or a
crash): JSON under /api/, where clients parse every answer, the dashboard's own page for a 404
under /dashboard/, and Django's HTML pages elsewhere."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from dashboard.views.errors import not_found as dashboard_not_found

API_PREFIX = "/api/"
DASHBOARD_PREFIX = "/dashboard/"


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Not found."}, status=404)
    if request.path.startswith(DASHBOARD_PREFIX):
        return dashboard_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A request Django refused before any view (too many fields, a malformed multipart body)."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Bad request: the request could not be read."}, status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return defaults.server_error(request)
