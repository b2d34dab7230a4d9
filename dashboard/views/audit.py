"""The Audit tab: who triggered, retried, cancelled, approved or edited what, newest first,
filtered by actor, action, object and time."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard import selectors
from dashboard.views.access import staff_required
from dashboard.views.common import paginate


@staff_required
def audit_list(request: HttpRequest) -> HttpResponse:
    filtered, rows = selectors.audit_page(params=request.GET)
    page = paginate(request, rows)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "tab": "audit",
        "filter": filtered,
        "page": page,
        "actions": selectors.audit_actions(),
        "query": query.urlencode(),
    }
    return render(request, "dashboard/audit/list.html", context)
