"""Create and edit an API orchestration in the app: the calls as repeated rows, "Add a call" and
"Preview dependencies" (the form again, nothing saved), and Save, checked by the API's own
validation with every error beside the call and field it concerns."""

from typing import cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dashboard import selectors
from dashboard.dag import Preview, dag_preview
from dashboard.orchestration_forms import (
    BaseCallFormSet,
    CallFormSet,
    OrchestrationForm,
    call_initial,
    definition_check,
    definition_from,
)
from dashboard.views.access import staff_required
from orchestration.models import APIOrchestration
from orchestration.services import orchestration_create, orchestration_update
from workflows.services.audit import actor_of_request

TAB = {"tab": "orchestrations"}
PREFIX = "calls"


def _posted_calls(request: HttpRequest) -> BaseCallFormSet:
    """The posted rows; with "Add a call", one blank row more (blank rows are left out)."""
    data = request.POST.copy()
    if "add_call" in data:
        total = f"{PREFIX}-TOTAL_FORMS"
        raw = data.get(total, "")
        count = int(raw) if raw.isdigit() else 0
        data[total] = str(count + 1)
        data[f"{PREFIX}-{count}-method"] = "GET"
    return cast(BaseCallFormSet, CallFormSet(data, prefix=PREFIX))


def _page(
    request: HttpRequest,
    orchestration: APIOrchestration | None,
    form: OrchestrationForm,
    calls: BaseCallFormSet,
    *,
    preview: Preview,
    status: int = 200,
) -> HttpResponse:
    context = {**TAB, "orchestration": orchestration, "form": form, "calls": calls}
    return render(
        request,
        "dashboard/orchestrations/form.html",
        {**context, "preview": preview},
        status=status,
    )


def _posted_preview(calls: BaseCallFormSet) -> Preview:
    """The preview of the rows as posted (rows with errors of their own left out)."""
    calls.is_valid()
    definition = definition_from(calls)
    return dag_preview([call["id"] for call in definition.api_calls], definition.dependencies)


def _saved_page(request: HttpRequest, orchestration: APIOrchestration | None) -> HttpResponse:
    """The form filled in with the orchestration as saved (one blank call for a new one)."""
    initial = None
    preview = dag_preview([], {})
    if orchestration is not None:
        initial = {name: getattr(orchestration, name) for name in OrchestrationForm.base_fields}
        ids = [call.get("id", "") for call in orchestration.api_calls]
        preview = dag_preview(ids, orchestration.dependencies)
    calls = cast(BaseCallFormSet, CallFormSet(initial=call_initial(orchestration), prefix=PREFIX))
    form = OrchestrationForm(initial=initial)
    return _page(request, orchestration, form, calls, preview=preview)


def _edit(request: HttpRequest, orchestration: APIOrchestration | None) -> HttpResponse:
    if request.method != "POST":
        return _saved_page(request, orchestration)
    form, calls = OrchestrationForm(request.POST), _posted_calls(request)
    preview = _posted_preview(calls)
    if "add_call" in request.POST or "preview" in request.POST:
        return _page(request, orchestration, form, calls, preview=preview)
    valid = form.is_valid() and calls.is_valid()
    data = definition_check(form, calls, orchestration) if valid else None
    if data is None:
        return _page(request, orchestration, form, calls, preview=preview, status=400)
    if orchestration is None:
        orchestration = orchestration_create(
            data=data, user=request.user, actor=actor_of_request(request)
        )
        messages.success(request, f"Created orchestration “{orchestration.name}”.")
    else:
        orchestration = orchestration_update(
            orchestration=orchestration, data=data, actor=actor_of_request(request)
        )
        messages.success(request, f"Saved orchestration “{orchestration.name}”.")
    return redirect("dashboard:orchestration-detail", orchestration.pk)


@staff_required
def orchestration_new(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@staff_required
def orchestration_edit(request: HttpRequest, orchestration_id: int) -> HttpResponse:
    return _edit(request, selectors.orchestration_get(orchestration_id=orchestration_id))
