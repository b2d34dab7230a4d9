"""The Executions tab: the live list (filtered by status and workflow), the detail with its step
timeline, retry, cancel, and approve / reject of an execution waiting on an approval step. Lists
and unfinished executions are polled by htmx and swapped in place."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from analytics.selectors import timeline_hourly
from dashboard import selectors
from dashboard.approvals import approval_pending
from dashboard.chart import hourly_chart
from dashboard.forms import DecisionForm, RunAgainForm
from dashboard.graph import workflow_graph
from dashboard.views.access import staff_required
from dashboard.views.common import paginate
from workflows.approvals import ApprovalRefused
from workflows.models import AutomationExecution, ExecutionStatus, TriggerType
from workflows.services.audit import actor_of_request
from workflows.services.bulk import BULK_LIMIT
from workflows.services.executions import (
    ExecutionConflict,
    execution_cancel,
    execution_create,
    execution_decide,
    execution_retry,
)
from workflows.services.overlap import OverlapSkipped

TAB = {"tab": "executions"}


def _list_context(request: HttpRequest) -> dict[str, object]:
    filtered, rows = selectors.executions_page(params=request.GET)
    page = paginate(request, rows)
    query = request.GET.copy()
    query.pop("page", None)
    return {
        **TAB,
        "filter": filtered,
        "page": page,
        "rows": page.object_list,
        "poll": True,
        "selectable": True,
        "bulk_limit": BULK_LIMIT,
        "query": query.urlencode(),
    }


@staff_required
def execution_list(request: HttpRequest) -> HttpResponse:
    context = {
        **_list_context(request),
        "workflow_choices": selectors.workflow_choices(),
        "chart": hourly_chart(timeline_hourly()),
    }
    return render(request, "dashboard/executions/list.html", context)


@staff_required
def execution_rows(request: HttpRequest) -> HttpResponse:
    """The list's table body alone, for the page to poll with the same filters and page."""
    return render(request, "dashboard/executions/rows.html", _list_context(request))


def _detail_context(
    execution: AutomationExecution,
    decision_form: DecisionForm | None = None,
    again_form: RunAgainForm | None = None,
) -> dict[str, object]:
    definition = execution.definition if isinstance(execution.definition, dict) else {}
    graph = workflow_graph(
        trigger=definition.get("trigger") or {},
        schedule="",
        actions=definition.get("actions") or [],
        statuses={step.step_id: step.status for step in execution.steps.all()},
    )
    approval = approval_pending(execution)
    return {
        **TAB,
        "execution": execution,
        "graph": graph,
        "approval": approval,
        "decision_form": decision_form
        or DecisionForm(fields=approval.fields if approval else None),
        "again_form": again_form or RunAgainForm(initial={"payload": execution.trigger_payload}),
    }


@staff_required
def execution_detail(request: HttpRequest, execution_id: int) -> HttpResponse:
    execution = selectors.execution_get(execution_id=execution_id)
    return render(request, "dashboard/executions/detail.html", _detail_context(execution))


@staff_required
def execution_live(request: HttpRequest, execution_id: int) -> HttpResponse:
    """The detail's status, actions and step timeline, polled until the execution finishes."""
    execution = selectors.execution_get(execution_id=execution_id)
    return render(request, "dashboard/executions/live.html", _detail_context(execution))


def _act(request: HttpRequest, execution_id: int, verb: str) -> HttpResponse:
    execution = selectors.execution_get(execution_id=execution_id)
    service = execution_retry if verb == "retry" else execution_cancel
    try:
        updated = service(execution=execution, actor=actor_of_request(request))
    except ExecutionConflict as exc:
        messages.error(request, str(exc))
    else:
        if verb == "retry":
            done = "queued again from its failed step"
        elif updated.status == ExecutionStatus.CANCELLED:
            done = "cancelled"
        else:
            done = "will stop before its next step"
        messages.success(request, f"Execution #{execution.pk} {done}.")
    return redirect("dashboard:execution-detail", execution.pk)


@staff_required
@require_POST
def execution_retry_view(request: HttpRequest, execution_id: int) -> HttpResponse:
    return _act(request, execution_id, "retry")


@staff_required
@require_POST
def execution_cancel_view(request: HttpRequest, execution_id: int) -> HttpResponse:
    return _act(request, execution_id, "cancel")


@staff_required
@require_POST
def execution_run_again(request: HttpRequest, execution_id: int) -> HttpResponse:
    """A new manual execution of the same workflow (as it is now) with the edited payload, then
    follow it live; a payload that is not a JSON object is a 400 with the error beside it."""
    execution = selectors.execution_get(execution_id=execution_id)
    form = RunAgainForm(request.POST)
    if not form.is_valid():
        page = _detail_context(execution, again_form=form)
        return render(request, "dashboard/executions/detail.html", page, status=400)
    try:
        created, _ = execution_create(
            workflow=execution.workflow,
            trigger_type=TriggerType.MANUAL,
            payload=form.cleaned_data["payload"],
            triggered_by=actor_of_request(request),
        )
    except OverlapSkipped as exc:
        messages.error(request, str(exc))
        return redirect("dashboard:execution-detail", execution.pk)
    messages.success(request, f"Queued execution #{created.pk}, a new run of #{execution.pk}.")
    return redirect("dashboard:execution-detail", created.pk)


def _decide(request: HttpRequest, execution_id: int, *, approved: bool) -> HttpResponse:
    """Approve or reject the approval the execution waits on, then follow it live. A comment too
    long is a 400 with the error beside it; an execution with nothing to decide (any more) a 409
    saying why, with the page as it is now."""
    execution = selectors.execution_get(execution_id=execution_id)
    pending = approval_pending(execution)
    form = DecisionForm(request.POST, fields=pending.fields if pending else None)
    if not form.is_valid():
        page = _detail_context(execution, form)
        return render(request, "dashboard/executions/detail.html", page, status=400)
    try:
        execution_decide(
            execution=execution,
            approved=approved,
            user=request.user,
            comment=form.cleaned_data["comment"],
            fields=form.edits() if approved else None,
            via="dashboard",
            actor=actor_of_request(request),
        )
    except (ExecutionConflict, ApprovalRefused) as exc:
        messages.error(request, str(exc))
        current = selectors.execution_get(execution_id=execution_id)
        refused = isinstance(exc, ApprovalRefused) and exc.kind == "forbidden"
        return render(
            request,
            "dashboard/executions/detail.html",
            _detail_context(current),
            status=403 if refused else 409,
        )
    verdict = "approved: it goes on" if approved else "rejected: it fails at its approval step"
    messages.success(request, f"Execution #{execution.pk} {verdict}.")
    return redirect("dashboard:execution-detail", execution.pk)


@staff_required
@require_POST
def execution_approve_view(request: HttpRequest, execution_id: int) -> HttpResponse:
    return _decide(request, execution_id, approved=True)


@staff_required
@require_POST
def execution_reject_view(request: HttpRequest, execution_id: int) -> HttpResponse:
    return _decide(request, execution_id, approved=False)
