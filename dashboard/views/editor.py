"""Creating and editing a workflow with the editor (``dashboard.editor``), and the fragments its
page asks for with htmx: the action catalogue filtered by a search, a cron expression in words
with its next runs, and a template field rendered as the last run would render it."""

import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.site import absolute_url
from dashboard import selectors
from dashboard.editor.page import (
    FORM,
    Draft,
    catalogue_groups,
    draft_change,
    draft_initial,
    draft_initial_data,
    draft_read,
    editor_build,
)
from dashboard.editor.trigger import cron_summary
from dashboard.editor.variables import preview_context
from dashboard.forms import WorkflowForm
from dashboard.views.access import staff_required
from workflows.drafts import draft_changes, draft_save
from workflows.models import AutomationWorkflow
from workflows.services.audit import actor_of_request
from workflows.services.workflows import DEFINITION_FIELDS, workflow_create, workflow_update
from workflows.templating import TemplateError, template_render

TAB = {"tab": "workflows"}


def _page(
    request: HttpRequest, form: WorkflowForm, draft: Draft, status: int = 200
) -> HttpResponse:
    workflow = form.instance
    context: dict[str, object] = {**TAB, "form": form, "workflow": workflow, "mode": draft.mode}
    if draft.mode == FORM:
        context["editor"] = editor_build(
            draft,
            errors=form.definition_errors,
            connections=selectors.connection_choices(),
            executions=selectors.executions_sample(workflow_id=workflow.pk if workflow else None),
            now=timezone.now(),
        )
    if workflow is not None and workflow.webhook_token:
        path = f"/api/workflow-orchestration/hooks/{workflow.webhook_token}"
        context["webhook_url"] = absolute_url(path, request)
    return render(request, "dashboard/workflows/form.html", context, status=status)


def _editor(
    request: HttpRequest, workflow: AutomationWorkflow | None
) -> HttpResponse | WorkflowForm:
    """The page to show (the form, changed by a button or refused), or the valid form."""
    if request.method != "POST":
        return _page(request, WorkflowForm(instance=workflow), draft_initial(workflow))
    draft, data = draft_read(request.POST)
    command = request.POST.get("editor", "")
    if command:
        changed = draft_change(draft, command)
        if changed is not None:
            initial = draft_initial_data(changed, data)
            return _page(request, WorkflowForm(instance=workflow, initial=initial), changed)
    form = WorkflowForm(data, instance=workflow)
    if not form.is_valid() or draft.problems:
        return _page(request, form, draft, status=400)
    return form


@staff_required
def workflow_new(request: HttpRequest) -> HttpResponse:
    result = _editor(request, None)
    if isinstance(result, HttpResponse):
        return result
    data = result.validated_data
    workflow = workflow_create(
        data=data,
        user=request.user,
        change_note=data.get("change_note", ""),
        actor=actor_of_request(request),
    )
    messages.success(request, f"Created workflow “{workflow.name}”.")
    return redirect("dashboard:workflow-detail", workflow.pk)


@staff_required
def workflow_edit(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    result = _editor(request, workflow)
    if isinstance(result, HttpResponse):
        return result
    data = result.validated_data
    actor = actor_of_request(request)
    if workflow.publish_requires_tests:
        # The definition goes live through the draft, once its tests pass; the rest at once.
        gated = {key: data[key] for key in DEFINITION_FIELDS if key in data}
        draft = draft_save(workflow=workflow, data=gated, user=request.user, actor=actor)
        rest = {key: value for key, value in data.items() if key not in DEFINITION_FIELDS}
        workflow_update(workflow=workflow, data=rest, user=request.user, actor=actor)
        if draft_changes(workflow, draft):
            messages.success(
                request,
                "Saved to the draft: what runs is unchanged until you publish it from "
                "Revisions, where its tests run first.",
            )
            return redirect("dashboard:workflow-revisions", workflow.pk)
        messages.success(request, f"Saved workflow “{workflow.name}”.")
        return redirect("dashboard:workflow-detail", workflow.pk)
    workflow = workflow_update(
        workflow=workflow,
        data=data,
        user=request.user,
        change_note=data.get("change_note", ""),
        actor=actor,
    )
    messages.success(request, f"Saved workflow “{workflow.name}” (version {workflow.version}).")
    return redirect("dashboard:workflow-detail", workflow.pk)


@staff_required
@require_GET
def action_catalogue(request: HttpRequest) -> HttpResponse:
    groups = catalogue_groups(request.GET.get("q", ""))
    return render(request, "dashboard/editor/catalogue_list.html", {"catalogue": groups})


@staff_required
@require_GET
def cron_preview(request: HttpRequest) -> HttpResponse:
    cron = cron_summary(
        schedule=request.GET.get("schedule", ""),
        timezone=request.GET.get("trigger-timezone", ""),
        now=timezone.now(),
    )
    return render(request, "dashboard/editor/cron.html", {"cron": cron})


def _field_text(request: HttpRequest) -> str:
    """The text of the field the preview button names: ``<name>`` or ``<name>:<row>``."""
    name, _, row = request.POST.get("preview", "").partition(":")
    values = request.POST.getlist(name)
    index = int(row) if row.isdigit() else 0
    return values[index] if index < len(values) else ""


@staff_required
@require_POST
def template_preview(request: HttpRequest) -> HttpResponse:
    """The field's value rendered with the sandboxed templating, with the last run's trigger
    payload and step outputs (nothing is run or sent)."""
    workflow_id = request.POST.get("workflow_id", "")
    workflow = (
        selectors.workflow_get(workflow_id=int(workflow_id)) if workflow_id.isdigit() else None
    )
    pk = workflow.pk if workflow else None
    executions = selectors.executions_sample(workflow_id=pk)
    context = preview_context(executions, pk, request.POST.get("name", ""))
    result: dict[str, object] = {"has_run": bool(executions)}
    try:
        value = template_render(_field_text(request), context)
    except TemplateError as exc:
        result["error"] = str(exc)
    else:
        result["value"] = value if isinstance(value, str) else json.dumps(value)
    return render(request, "dashboard/editor/preview.html", result)
