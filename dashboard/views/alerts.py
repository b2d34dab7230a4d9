"""The Alerts tab: alert rules (create, edit) with their counters and a test button, the delivery
log, the signed-in user's notifications, and connections (create, verify). Secrets are never
shown: lists do not even load them, and the connection form never fills them back in."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from alerts.models import AutomationAlert
from alerts.services.alerts import alert_create, alert_test, alert_update
from alerts.services.notifications import notification_mark_read, notifications_mark_all_read
from dashboard import selectors
from dashboard.forms import AlertForm, ConnectionForm
from dashboard.views.access import staff_required
from dashboard.views.common import paginate
from integrations.crypto import DecryptionError
from integrations.services import connection_create, connection_verify
from workflows.services.audit import actor_of_request

TAB = {"tab": "alerts"}


@staff_required
def alert_overview(request: HttpRequest) -> HttpResponse:
    notifications, unread = selectors.notifications_of(user=request.user)
    context = {
        **TAB,
        "alerts": paginate(request, selectors.alerts_page()),
        "deliveries": selectors.deliveries_recent(),
        "notifications": notifications,
        "unread_count": unread,
        "connections": selectors.connections_page(),
    }
    return render(request, "dashboard/alerts/overview.html", context)


@staff_required
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    """One alert and its full delivery log."""
    alert = selectors.alert_get(alert_id=alert_id)
    page = paginate(request, selectors.deliveries_of_alert(alert=alert))
    return render(request, "dashboard/alerts/detail.html", {**TAB, "alert": alert, "page": page})


def _alert_form(request: HttpRequest, alert: AutomationAlert | None) -> HttpResponse | AlertForm:
    """The form page (again, with errors beside the fields), or the valid form."""
    form = AlertForm(
        request.POST if request.method == "POST" else None,
        instance=alert,
        workflows=selectors.workflow_choices(),
        connections=selectors.connection_choices(),
    )
    if form.is_bound and form.is_valid():
        return form
    status = 400 if form.is_bound else 200
    context = {**TAB, "form": form, "alert": alert}
    return render(request, "dashboard/alerts/form.html", context, status=status)


@staff_required
def alert_new(request: HttpRequest) -> HttpResponse:
    result = _alert_form(request, None)
    if isinstance(result, HttpResponse):
        return result
    alert = alert_create(data=result.validated_data, actor=actor_of_request(request))
    messages.success(request, f"Created alert rule “{alert.name}”.")
    return redirect("dashboard:alert-detail", alert.pk)


@staff_required
def alert_edit(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = selectors.alert_get(alert_id=alert_id)
    result = _alert_form(request, alert)
    if isinstance(result, HttpResponse):
        return result
    alert = alert_update(alert=alert, data=result.validated_data, actor=actor_of_request(request))
    messages.success(request, f"Saved alert rule “{alert.name}”.")
    return redirect("dashboard:alert-detail", alert.pk)


@staff_required
@require_POST
def alert_test_view(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = selectors.alert_get(alert_id=alert_id)
    try:
        outcome = alert_test(alert=alert, request=request)
    except DecryptionError:
        messages.error(request, f"Test of “{alert.name}”: its connection's secrets are unreadable.")
    else:
        verdict = "delivered" if outcome["delivered"] else "not delivered"
        level = messages.SUCCESS if outcome["delivered"] else messages.ERROR
        messages.add_message(
            request, level, f"Test of “{alert.name}”: {verdict} — {outcome['detail']}"
        )
    return redirect("dashboard:alerts")


@staff_required
@require_POST
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    notification = selectors.notification_get(user=request.user, notification_id=notification_id)
    notification_mark_read(notification=notification)
    return redirect("dashboard:alerts")


@staff_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    count = notifications_mark_all_read(user=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("dashboard:alerts")


@staff_required
def connection_new(request: HttpRequest) -> HttpResponse:
    form = ConnectionForm(request.POST if request.method == "POST" else None)
    if not form.is_bound or not form.is_valid():
        status = 400 if form.is_bound else 200
        context = {**TAB, "form": form}
        return render(request, "dashboard/alerts/connection_form.html", context, status=status)
    connection = connection_create(**form.cleaned_data, by=request)
    messages.success(request, f"Created connection “{connection.name}”. Verify it below.")
    return redirect("dashboard:alerts")


@staff_required
@require_POST
def connection_verify_view(request: HttpRequest, connection_id: int) -> HttpResponse:
    try:
        connection = selectors.connection_get(connection_id=connection_id)
        outcome = connection_verify(connection=connection)
    except DecryptionError:
        messages.error(request, f"Connection {connection_id}: its secrets are unreadable.")
        return redirect("dashboard:alerts")
    state = "verified" if outcome["is_verified"] else "not verified"
    level = messages.SUCCESS if outcome["is_verified"] else messages.ERROR
    text = f"“{connection.name}” {state}: {outcome['detail']} ({outcome['latency_ms']} ms)"
    messages.add_message(request, level, text)
    return redirect("dashboard:alerts")
