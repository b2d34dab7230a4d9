"""Bulk Retry / Cancel / Replay from the executions list: the list posts the ticked rows (or
"every row the filter matches") here, a confirmation page says how many and posts their ids
back, and only then does anything happen. Rows in the wrong state are skipped and counted, never
an error. A replay runs in the background as a job, whose page follows its progress."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard import selectors
from dashboard.bulk import BulkForm
from dashboard.views.access import staff_required
from workflows.models import FINISHED_STATUSES, ExecutionStatus
from workflows.services.audit import actor_of_request
from workflows.services.bulk import BULK_LIMIT, BulkOutcome, executions_cancel, executions_retry
from workflows.services.replay import FROM_FAILED_STEP, replay_job_create

_UNFINISHED = [value for value in ExecutionStatus.values if value not in FINISHED_STATUSES]
ELIGIBLE: dict[str, list[str]] = {
    "retry": [ExecutionStatus.FAILED],
    "cancel": _UNFINISHED,
    "replay": list(FINISHED_STATUSES),
}


def _back(query: str) -> HttpResponse:
    return redirect(f"{reverse('dashboard:executions')}{'?' + query if query else ''}")


def _refused(request: HttpRequest, form: BulkForm) -> HttpResponse:
    for errors in form.errors.values():
        messages.error(request, " ".join(str(error) for error in errors))
    return _back(form.cleaned_data.get("filter", ""))


@staff_required
@require_POST
def execution_bulk_confirm(request: HttpRequest) -> HttpResponse:
    """The confirmation: how many executions the action would touch and how many of them are in
    a state it applies to; nothing changes yet."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        return _refused(request, form)
    data = form.cleaned_data
    if data["everything"]:
        ids, matching = selectors.executions_matching(query=data["filter"], limit=BULK_LIMIT)
    else:
        ids, matching = data["ids"], len(data["ids"])
    if not ids:
        messages.error(request, "No executions match the filter.")
        return _back(data["filter"])
    eligible = selectors.executions_in_states(execution_ids=ids, statuses=ELIGIBLE[data["action"]])
    context = {
        "tab": "executions",
        "action": data["action"],
        "ids": ids,
        "matching": matching,
        "capped": matching > len(ids),
        "eligible": eligible,
        "skipped": len(ids) - eligible,
        "filter": data["filter"],
        "limit": BULK_LIMIT,
    }
    return render(request, "dashboard/executions/bulk_confirm.html", context)


def _summary(action: str, outcome: BulkOutcome) -> str:
    if action == "retry":
        return f"{len(outcome.done)} retried, {len(outcome.skipped)} skipped (not failed)."
    stopping = f", {len(outcome.stopping)} asked to stop" if outcome.stopping else ""
    skipped = f"{len(outcome.skipped)} skipped (already finished)"
    return f"{len(outcome.done)} cancelled{stopping}, {skipped}."


@staff_required
@require_POST
def execution_bulk_apply(request: HttpRequest) -> HttpResponse:
    """Retry or cancel exactly the confirmed ids, then back to the list with what happened."""
    form = BulkForm(request.POST)
    if form.is_valid() and not form.cleaned_data["ids"]:
        form.add_error("ids", "Nothing was confirmed: no executions to act on.")
    if not form.is_valid():
        return _refused(request, form)
    data = form.cleaned_data
    if data["action"] == "replay":
        # Replays are new executions, started in the background by a job.
        job = replay_job_create(
            ids=data["ids"],
            start_from=data["start_from"] or FROM_FAILED_STEP,
            params={"filter": data["filter"]},
            actor=actor_of_request(request),
        )
        messages.success(request, f"Replaying {job.total} executions in the background.")
        return redirect("dashboard:job-detail", job.pk)
    service = executions_retry if data["action"] == "retry" else executions_cancel
    outcome = service(execution_ids=data["ids"], actor=actor_of_request(request))
    messages.success(request, _summary(data["action"], outcome))
    return _back(data["filter"])
