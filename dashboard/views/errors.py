"""The dashboard's own "not found" page, which config/errors.py answers with for every 404 under
/dashboard/: the site's header (and the tabs for staff), what was not found, and ways on."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    staff = request.user.is_authenticated and request.user.is_staff
    # A view's own reason ("Workflow 3 has no revision 99.") helps staff; nobody else sees it.
    reason = str(exception.args[0]) if staff and exception.args else ""
    context = {"base": "dashboard/staff.html" if staff else "dashboard/base.html", "reason": reason}
    return render(request, "dashboard/not_found.html", context, status=404)
