"""The replay page of an execution: choose where to start, which revision, a step to mark done
and whether to make its effects again; see what each step will do — carried, marked, run, and
which steps that run would send, post or commit again — then confirm. The same services as
POST executions/{id}/replay."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from rest_framework import serializers

from dashboard import selectors
from dashboard.forms import error_lines
from dashboard.replay_forms import ReplayForm
from dashboard.views.access import staff_required
from workflows.models import AutomationExecution
from workflows.services.audit import actor_of_request
from workflows.services.replay import (
    ReplayPlan,
    execution_replay,
    first_step_not_done,
    replay_plan,
)

TAB = {"tab": "executions"}


def _plan(form: ReplayForm, execution: AutomationExecution) -> ReplayPlan | None:
    """The plan of the replay the form asks for; None, with the errors beside the fields, when
    the form or the plan refuses it."""
    if not form.is_valid():
        return None
    asked = form.request()
    if asked is None:
        return None
    try:
        return replay_plan(execution=execution, **asked)
    except serializers.ValidationError as exc:
        detail: Any = exc.detail
        for field, problems in detail.items():
            form.add_error("mark_step" if field == "mark" else field, error_lines(problems))
        return None


@staff_required
def execution_replay_view(request: HttpRequest, execution_id: int) -> HttpResponse:
    execution = selectors.execution_get(execution_id=execution_id)
    if not execution.is_finished:
        messages.error(
            request,
            f"Execution #{execution.pk} is {execution.status}: only a "
            "finished execution can be replayed.",
        )
        return redirect("dashboard:execution-detail", execution.pk)
    start = first_step_not_done(execution) or ""
    data = request.POST if request.method == "POST" else request.GET or None
    form = ReplayForm(
        data
        if data is not None
        else {"from_step": start, "revision": "original", "mark_status": "completed"},
        execution=execution,
    )
    plan = _plan(form, execution)
    if request.method == "POST" and plan is not None:
        replay = execution_replay(plan=plan, actor=actor_of_request(request))
        messages.success(request, f"Queued execution #{replay.pk}, a replay of #{execution.pk}.")
        return redirect("dashboard:execution-detail", replay.pk)
    context = {**TAB, "execution": execution, "form": form, "plan": plan}
    status = 400 if form.errors else 200
    return render(request, "dashboard/executions/replay.html", context, status=status)
