"""The collector that reads every family at scrape time, and the view that guards it."""

import hmac
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from analytics.metrics import present, recent
from workflows.api.authentication import BearerTokenAuthentication
from workflows.models import AutomationWorkflow


class DatabaseCollector(Collector):
    """Produces every family at scrape time from the database (and one broker broadcast)."""

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        now = timezone.now()
        since = now - timedelta(seconds=settings.METRICS_WINDOW_S)
        workflows = list(
            AutomationWorkflow.objects.order_by("pk").values_list(
                "pk", "name", "success_count", "failure_count"
            )
        )
        names = {workflow_id: name for workflow_id, name, *_ in workflows}
        yield from present.finished_counters(workflows)
        yield from present.in_flight(now)
        yield from present.alerts()
        yield from present.processes(now)
        yield GaugeMetricFamily(
            "workflows_metrics_window_seconds",
            "The window the workflows_recent_* metrics cover, by execution creation time.",
            value=settings.METRICS_WINDOW_S,
        )
        yield from recent.recent_executions(since, names)
        yield from recent.recent_steps(since)
        yield recent.http_responses(since)
        yield GaugeMetricFamily(
            "workflows_metrics_scrape_duration_seconds",
            "How long this scrape took to read the metrics.",
            value=time.monotonic() - started,
        )


registry = CollectorRegistry(auto_describe=False)
registry.register(DatabaseCollector())


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the caller may read the metrics: the METRICS_TOKEN bearer, or a staff user by
    API token or session. Else the 401 or 403 to answer."""
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    user: Any = request.user
    if scheme.lower() == "bearer":
        token = settings.METRICS_TOKEN
        if token and hmac.compare_digest(credentials.strip().encode(), token.encode()):
            return None
        try:
            authenticated = BearerTokenAuthentication().authenticate(Request(request))
        except AuthenticationFailed:
            authenticated = None
        user = authenticated[0] if authenticated else None
    if user is None or not user.is_authenticated:
        response = HttpResponse("Authentication required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not user.is_staff:
        return HttpResponse("Staff only.\n", status=403, content_type="text/plain")
    return None


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text format (or OpenMetrics, when the scraper asks for it)."""
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    encoder, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(encoder(registry), content_type=content_type)
