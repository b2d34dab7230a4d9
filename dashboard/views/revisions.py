"""A workflow's revisions (on the Workflows tab): the history, a diff between any two revisions
(side by side or unified), and restore with the diff shown before it is confirmed. Reads come from
``workflows.revisions``; a restore goes through ``workflow_revision_restore``, which records a new
revision (history is never rewritten)."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework import serializers

from dashboard import selectors
from dashboard.diffs import diff_view
from dashboard.forms import RestoreForm, RevisionCompareForm
from dashboard.views.access import staff_required
from dashboard.views.common import paginate
from workflows.drafts import (
    NoDraft,
    PublishRefused,
    draft_changes,
    draft_discard,
    draft_publish,
)
from workflows.models import AutomationWorkflow, WorkflowDraft, WorkflowRevision
from workflows.revisions import definition_text, workflow_revision_diff, workflow_revision_latest
from workflows.services.audit import actor_of_request
from workflows.services.workflows import workflow_revision_restore

TAB = {"tab": "workflows"}


def _comparison(workflow: AutomationWorkflow, old: int, new: int) -> dict[str, object]:
    """The diff from revision ``old`` to ``new`` (a 404 when either does not exist)."""
    try:
        diff = workflow_revision_diff(workflow=workflow, from_number=old, to_number=new)
    except WorkflowRevision.DoesNotExist as exc:
        raise Http404(str(exc)) from None
    return {
        "revision_diff": diff,
        "diff": diff_view(
            old_label=f"revision {old}",
            new_label=f"revision {new}",
            old_lines=definition_text(diff.old.definition),
            new_lines=definition_text(diff.new.definition),
            unified=diff.unified,
        ),
    }


@staff_required
def revision_list(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """The history, newest first, and the diff the compare form asks for (by default: the
    latest revision against the one before it)."""
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    page = paginate(request, selectors.revisions_of(workflow=workflow))
    latest = workflow_revision_latest(workflow=workflow)
    newest = latest.number if latest else 1
    default = {"from_revision": max(newest - 1, 1), "to_revision": newest, "mode": "split"}
    form = RevisionCompareForm(request.GET if "from_revision" in request.GET else default)
    query = request.GET.copy()
    query.pop("page", None)
    context: dict[str, object] = {
        **TAB,
        "workflow": workflow,
        "page": page,
        "latest": latest,
        "form": form,
        "query": query.urlencode(),
    }
    draft = WorkflowDraft.objects.filter(workflow=workflow).select_related("updated_by").first()
    if draft is not None:
        context.update(draft=draft, draft_changes=draft_changes(workflow, draft))
    if latest is not None and form.is_valid():
        data = form.cleaned_data
        context.update(_comparison(workflow, data["from_revision"], data["to_revision"]))
        context["mode"] = data["mode"]
    return render(request, "dashboard/workflows/revisions.html", context)


def _restored_message(number: int, before: int | None, after: WorkflowRevision | None) -> str:
    if after is None or after.number == before:
        return f"The workflow already has revision {number}’s definition; nothing changed."
    return f"Restored revision {number} (recorded as revision {after.number})."


@staff_required
def revision_restore_confirm(request: HttpRequest, workflow_id: int, number: int) -> HttpResponse:
    """GET: what restoring would change (the latest revision against the target). POST: restore,
    recording a new revision by the signed-in user with the note given. A definition that is no
    longer valid (a connection it names was deleted, say) is refused with the reasons (400)."""
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    revision = selectors.revision_get(workflow=workflow, number=number)
    latest = workflow_revision_latest(workflow=workflow)
    form = RestoreForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            workflow_revision_restore(
                workflow=workflow,
                number=number,
                user=request.user,
                change_note=form.cleaned_data["change_note"],
            )
        except serializers.ValidationError as exc:
            form.errors_add(exc.detail)
        else:
            after = workflow_revision_latest(workflow=workflow)
            before = latest.number if latest else None
            messages.success(request, _restored_message(number, before, after))
            return redirect("dashboard:workflow-detail", workflow.pk)
    current = latest.number if latest else number
    context = {
        **TAB,
        "workflow": workflow,
        "revision": revision,
        "current": current,
        "form": form,
        "mode": "split",
        **_comparison(workflow, current, number),
    }
    status = 400 if form.is_bound else 200
    return render(request, "dashboard/workflows/restore.html", context, status=status)


@staff_required
@require_POST
def draft_publish_view(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """Publish the draft; with publish_requires_tests, only if its suite passes on it."""
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    try:
        published = draft_publish(
            workflow=workflow, user=request.user, actor=actor_of_request(request)
        )
    except NoDraft as exc:
        messages.error(request, str(exc))
    except PublishRefused as exc:
        failures = [
            f"{case['name']}: {'; '.join(case['failures'])}"
            for case in exc.tests["cases"]
            if not case["ok"]
        ]
        messages.error(request, " ".join([exc.message, *failures]))
    except serializers.ValidationError as exc:
        messages.error(request, f"Not published: {exc.detail}")
    else:
        messages.success(
            request, f"Published: “{published.name}” is at version {published.version}."
        )
    return redirect("dashboard:workflow-revisions", workflow.pk)


@staff_required
@require_POST
def draft_discard_view(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = selectors.workflow_get(workflow_id=workflow_id)
    try:
        draft_discard(workflow=workflow, actor=actor_of_request(request))
    except NoDraft as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Draft discarded: what runs is unchanged.")
    return redirect("dashboard:workflow-revisions", workflow.pk)
