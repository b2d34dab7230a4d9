from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from analytics.metrics import metrics_view
from dashboard.views.approval_links import approval_link_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/workflow-orchestration/", include("config.api")),
    path("dashboard/", include("dashboard.urls")),
    # Signed, single-use approval links sent in Slack, Telegram and email messages.
    path("approvals/<str:token>/", approval_link_view, name="approval-link"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script from a URL: the docs run under a CSP that allows
    # no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^metrics/?$", metrics_view, name="metrics"),
]

# No route matched, the request could not be read, or a view crashed: JSON under /api/
# (config/errors.py).
handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
