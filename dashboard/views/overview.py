"""The live stats header of the staff dashboard, and the user widget."""

from functools import wraps
from typing import Any

from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin

from analytics.selectors import stats_overview, stats_summary
from core.security import content_security_policy
from dashboard import selectors
from dashboard.views.access import View, signed_in_required, staff_required

# Pages of this site may frame the widget; other sites may not.
FRAMABLE_POLICY = content_security_policy(frame_ancestors="'self'")


def same_site_framable(view: View) -> View:
    """X-Frame-Options SAMEORIGIN and a CSP whose frame-ancestors is this site."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.headers["Content-Security-Policy"] = FRAMABLE_POLICY
        return response

    return xframe_options_sameorigin(wrapper)


class SignInView(LoginView):
    """Django's login form for any active user; staff land on the dashboard, others on the
    widget."""

    template_name = "dashboard/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return reverse("dashboard:workflows" if self.request.user.is_staff else "dashboard:widget")


@never_cache
@staff_required
def stats_header(request: HttpRequest) -> HttpResponse:
    """The header's live numbers and health; the page polls it as often as its live parts
    (DASHBOARD_LIVE_REFRESH_S), so a run that finished below is not still queued above."""
    return render(request, "dashboard/partials/stats_header.html", {"stats": stats_summary()})


def _widget_context() -> dict[str, object]:
    return {"widget": stats_overview(), "active_workflows": selectors.workflows_active()}


@same_site_framable
@signed_in_required
def widget(request: HttpRequest) -> HttpResponse:
    """The user widget as a page of its own, which pages of this site may frame."""
    return render(request, "dashboard/widget.html", _widget_context())


@same_site_framable
@signed_in_required
def widget_panel(request: HttpRequest) -> HttpResponse:
    """The widget's contents; ``dashboard/widget_include.html`` reloads it every
    DASHBOARD_WIDGET_REFRESH_S seconds."""
    return render(request, "dashboard/partials/widget_panel.html", _widget_context())
