"""The Workflows tab: list, detail with stats, revisions and a schedule's next runs, run, test
with a payload (a dry run), pause / resume and backfill a schedule, activate / deactivate,
delete. Create and
edit (the editor) and revisions have their own modules."""

import zoneinfo
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from rest_framework import serializers

from analytics.selectors import workflow_stats_detail
from dashboard import selectors
from dashboard.chart import hourly_chart
from dashboard.forms import (
    BackfillForm,
    DryRunForm,
    PayloadForm,
    SchedulePauseForm,
    errors_beside_fields,
)
from dashboard.graph import workflow_graph
from dashboard.views.access import staff_required
from dashboard.views.common import paginate
from workflows.models import AutomationWorkflow, TriggerType
from workflows.selectors import ScheduleMissing, SchedulePreview, workflow_schedule_preview
from workflows.services.audit import actor_of_request
from workflows.services.backfill import NotScheduled, backfill_start
from workflows.services.dry_run import workflow_dry_run
from workflows.services.executions import execution_create
from workflows.services.overlap import OverlapSkipped
from workflows.services.workflows import workflow_delete, workflow_set_active, workflow_update

TAB = {"tab": "workflows"}
NEXT_RUNS_SHOWN = 5


@staff_required
def workflow_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, selectors.workflows_page())
    return render(request, "dashboard/workflows/list.html", {**TAB, "page": page})


@staff_required
def workflow_detail(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    return render(request, "dashboard/workflows/detail.html", _detail_context(workflow))


def _detail_context(
    workflow: AutomationWorkflow,
    pause_form: SchedulePauseForm | None = None,
    backfill_form: BackfillForm | None = None,
) -> dict[str, Any]:
    stats = workflow_stats_detail(workflow=workflow)
    executions = selectors.executions_of_workflow(workflow=workflow)
    last = executions[0] if executions else None
    graph = workflow_graph(
        trigger=workflow.trigger,
        schedule=workflow.schedule,
        actions=workflow.actions,
        statuses=selectors.step_statuses(execution_id=last.pk) if last else {},
    )
    return {
        **TAB,
        "workflow": workflow,
        "stats": stats,
        "chart": hourly_chart(stats["timeline"]["hourly"]),
        "executions": executions,
        "last_execution": last,
        "graph": graph,
        "revisions": selectors.revisions_recent(workflow=workflow),
        "run_form": PayloadForm(),
        "test_form": DryRunForm(),
        "schedule": _schedule_preview(workflow),
        "pause_form": pause_form or SchedulePauseForm(),
        "backfill_form": backfill_form or BackfillForm(),
        "jobs": selectors.jobs_of_workflow(workflow=workflow),
    }


def _schedule_preview(workflow: AutomationWorkflow) -> SchedulePreview | None:
    try:
        return workflow_schedule_preview(
            workflow=workflow, count=NEXT_RUNS_SHOWN, now=timezone.now()
        )
    except ScheduleMissing:
        return None


@staff_required
@require_POST
def workflow_schedule_pause(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """Pause the workflow's schedule until the date and time given (read in the schedule's time
    zone), or resume it (``resume=1``): a workflow update, audited as any edit. A date that is
    not a future date and time is a 400 with the error beside it."""
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    if workflow.trigger_type != TriggerType.SCHEDULE:
        messages.error(request, f"“{workflow.name}” has no schedule to pause.")
        return redirect("dashboard:workflow-detail", workflow.pk)
    paused_until = None
    if request.POST.get("resume") != "1":
        form = SchedulePauseForm(request.POST)
        with timezone.override(zoneinfo.ZoneInfo(workflow.trigger.get("timezone") or "UTC")):
            valid = form.is_valid()
        if not valid:
            context = _detail_context(workflow, pause_form=form)
            return render(request, "dashboard/workflows/detail.html", context, status=400)
        paused_until = form.cleaned_data["paused_until"]
    workflow_update(
        workflow=workflow,
        data={"schedule_paused_until": paused_until},
        user=request.user,
        actor=actor_of_request(request),
    )
    done = f"paused until {paused_until.isoformat()}" if paused_until else "resumed"
    messages.success(request, f"The schedule of “{workflow.name}” is {done}.")
    return redirect("dashboard:workflow-detail", workflow.pk)


@staff_required
@require_POST
def workflow_backfill(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """Start a backfill of the schedule over the range given (read in the schedule's time
    zone) and follow its progress; a bad range is a 400 with the errors beside the fields."""
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    form = BackfillForm(request.POST)
    with timezone.override(zoneinfo.ZoneInfo(workflow.trigger.get("timezone") or "UTC")):
        valid = form.is_valid()
    if valid:
        try:
            job, _slots, _already = backfill_start(
                workflow=workflow, actor=actor_of_request(request), **form.cleaned_data
            )
        except NotScheduled as exc:
            messages.error(request, str(exc))
            return redirect("dashboard:workflow-detail", workflow.pk)
        except serializers.ValidationError as exc:
            errors_beside_fields(form, exc.detail)
        else:
            messages.success(request, f"Backfilling {job.total} slots of “{workflow.name}”.")
            return redirect("dashboard:job-detail", job.pk)
    context = _detail_context(workflow, backfill_form=form)
    return render(request, "dashboard/workflows/detail.html", context, status=400)


@staff_required
def workflow_run(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """GET: the payload form. POST: queue a manual execution and follow it live."""
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    form = PayloadForm(request.POST if request.method == "POST" else None)
    if not form.is_bound or not form.is_valid():
        status = 400 if form.is_bound else 200
        context = {**TAB, "workflow": workflow, "form": form}
        return render(request, "dashboard/workflows/run.html", context, status=status)
    try:
        execution, _ = execution_create(
            workflow=workflow,
            trigger_type=TriggerType.MANUAL,
            payload=form.cleaned_data["payload"],
            triggered_by=actor_of_request(request),
        )
    except OverlapSkipped as exc:
        messages.error(request, str(exc))
        return redirect("dashboard:workflow-detail", workflow.pk)
    messages.success(request, f"Queued execution #{execution.pk} of “{workflow.name}”.")
    return redirect("dashboard:execution-detail", execution.pk)


@staff_required
def workflow_dry_run_view(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """GET: the sample payload form. POST: what a run with that payload would do, step by step,
    from ``workflow_dry_run``, which sends nothing and saves nothing; the form stays filled in
    for the next try. A payload that is not a JSON object is a 400 with the error beside it."""
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    form = DryRunForm(request.POST if request.method == "POST" else None)
    context: dict[str, object] = {**TAB, "workflow": workflow, "form": form}
    if form.is_bound and form.is_valid():
        context["report"] = workflow_dry_run(
            workflow=workflow, payload=form.cleaned_data["payload"]
        )
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "dashboard/workflows/dry_run.html", context, status=status)


@staff_required
@require_POST
def workflow_activate(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """Switch the workflow on (``is_active=1``) or off (``is_active=0``); back to the list, or
    to the workflow's page when ``back=detail``."""
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    active = request.POST.get("is_active") == "1"
    workflow_set_active(workflow=workflow, is_active=active)
    messages.success(request, f"“{workflow.name}” {'activated' if active else 'deactivated'}.")
    if request.POST.get("back") == "detail":
        return redirect("dashboard:workflow-detail", workflow.pk)
    return redirect("dashboard:workflows")


@staff_required
def workflow_delete_confirm(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """GET: ask, saying what goes with it. POST: delete the workflow and its executions."""
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    if request.method != "POST":
        context = {**TAB, "workflow": workflow}
        return render(request, "dashboard/workflows/delete.html", context)
    name = workflow.name
    workflow_delete(workflow=workflow, actor=actor_of_request(request))
    messages.success(request, f"Deleted workflow “{name}” and its executions.")
    return redirect("dashboard:workflows")
