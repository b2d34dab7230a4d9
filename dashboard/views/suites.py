"""A workflow's test suite in the dashboard: its saved cases, a form to add one (the case as
JSON, checked by the API's serializer, errors beside the field), deleting one, and Run, which
shows each case's outcome and what it found instead — the same runner as POST
workflows/{id}/tests/run: nothing leaves the process and nothing is kept."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dashboard import selectors
from dashboard.forms import WorkflowTestForm, error_lines
from dashboard.views.access import staff_required
from workflows.api.suites import WorkflowTestSerializer
from workflows.models import AutomationWorkflow, WorkflowTest
from workflows.suites import workflow_tests_run

TAB = {"tab": "workflows"}
EXAMPLE = {
    "name": "counts the articles",
    "payload": {"day": "monday"},
    "mocks": [{"url": "https://api.example.com/", "method": "GET", "body": {"count": 7}}],
    "expect": [{"path": "status", "equals": "completed"}],
}


def _page(
    request: HttpRequest,
    workflow: AutomationWorkflow,
    *,
    form: WorkflowTestForm | None = None,
    outcome: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        **TAB,
        "workflow": workflow,
        "cases": WorkflowTest.objects.filter(workflow=workflow).order_by("name"),
        "form": form or WorkflowTestForm(initial={"case": EXAMPLE}),
        "outcome": outcome,
    }
    return render(request, "dashboard/workflows/tests.html", context, status=status)


@staff_required
def workflow_tests(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """GET: the cases and the form. POST: add the case the form holds."""
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    if request.method != "POST":
        return _page(request, workflow)
    form = WorkflowTestForm(request.POST)
    if form.is_valid():
        case = WorkflowTestSerializer(data=form.cleaned_data["case"])
        duplicate = WorkflowTest.objects.filter(
            workflow=workflow, name=form.cleaned_data["case"].get("name")
        ).exists()
        if duplicate:
            form.add_error("case", "name: This workflow has a test so named.")
        elif case.is_valid():
            saved = case.save(workflow=workflow)
            messages.success(request, f"Saved test “{saved.name}”.")
            return redirect("dashboard:workflow-tests", workflow.pk)
        else:
            for line in error_lines(case.errors, ["case"]):
                form.add_error("case", line)
    return _page(request, workflow, form=form, status=400)


@staff_required
@require_POST
def workflow_tests_run_view(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    return _page(request, workflow, outcome=workflow_tests_run(workflow=workflow))


@staff_required
@require_POST
def workflow_test_delete(request: HttpRequest, workflow_id: int, test_id: int) -> HttpResponse:
    case = get_object_or_404(WorkflowTest, pk=test_id, workflow_id=workflow_id)
    case.delete()
    messages.success(request, f"Deleted test “{case.name}”.")
    return redirect("dashboard:workflow-tests", workflow_id)
