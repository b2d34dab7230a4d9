"""The API Orchestration tab: orchestrations with their counters, run one with an input, and the
per-call results of its recent runs (polled while one is unfinished)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dashboard import selectors
from dashboard.forms import OrchestrationRunForm
from dashboard.views.access import staff_required
from dashboard.views.common import paginate
from orchestration.models import APIOrchestration
from orchestration.services import OrchestrationInactive, orchestration_run_create

TAB = {"tab": "orchestrations"}


def _runs_context(orchestration: APIOrchestration) -> dict[str, object]:
    runs = selectors.runs_of(orchestration=orchestration)
    return {
        "orchestration": orchestration,
        "runs": runs,
        "runs_unfinished": any(not run.is_finished for run in runs),
    }


@staff_required
def orchestration_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, selectors.orchestrations_page())
    return render(request, "dashboard/orchestrations/list.html", {**TAB, "page": page})


@staff_required
def orchestration_detail(request: HttpRequest, orchestration_id: int) -> HttpResponse:
    """GET: the orchestration, its run form and recent runs. POST: queue a run with the input."""
    orchestration = selectors.orchestration_get(orchestration_id=orchestration_id)
    form = OrchestrationRunForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            run = orchestration_run_create(
                orchestration=orchestration, input=form.cleaned_data["input"]
            )
        except OrchestrationInactive as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Queued run #{run.pk} of “{orchestration.name}”.")
        return redirect("dashboard:orchestration-detail", orchestration.pk)
    context = {**TAB, **_runs_context(orchestration), "form": form}
    status = 400 if form.is_bound else 200
    return render(request, "dashboard/orchestrations/detail.html", context, status=status)


@staff_required
def orchestration_runs(request: HttpRequest, orchestration_id: int) -> HttpResponse:
    """The recent runs alone, for the page to poll."""
    orchestration = selectors.orchestration_get(orchestration_id=orchestration_id)
    return render(request, "dashboard/orchestrations/runs.html", _runs_context(orchestration))
