"""The page behind an approval link: the approver, not signed in, reads what is asked, edits the
declared fields and approves or rejects. Opening the page decides nothing (chat apps fetch links
to preview them); the form's POST does, once. The link's checks: workflows/approvals.py."""

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from dashboard.approvals import approval_of
from dashboard.forms import DecisionForm
from workflows.approvals import ApprovalRefused, LinkClaim, link_read
from workflows.models import ActorKind, AutomationExecution, AutomationExecutionStep
from workflows.services.audit import Actor
from workflows.services.executions import ExecutionConflict, execution_decide

TEMPLATE = "dashboard/approvals/link.html"


def _page(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, TEMPLATE, context, status=status)
    # The token is the approver's key: no referrer carries it to another site (same-origin,
    # not no-referrer: a form posted under no-referrer has Origin null, which CSRF refuses),
    # and no search engine keeps it.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _step(claim: LinkClaim) -> tuple[AutomationExecutionStep | None, Any]:
    step = (
        AutomationExecutionStep.objects.select_related("execution__workflow")
        .filter(execution_id=claim.execution_id, step_id=claim.step_id, step_type="approval")
        .first()
    )
    user = get_user_model().objects.filter(pk=claim.user_id, is_active=True).first()
    return step, user


@never_cache
@require_http_methods(["GET", "POST"])
def approval_link_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        claim = link_read(token)
    except ApprovalRefused as exc:
        return _page(request, {"problem": exc.message}, status=400)
    step, user = _step(claim)
    if step is None or user is None:
        problem = "This approval, or the approver it was sent to, no longer exists."
        return _page(request, {"problem": problem}, status=410)
    execution: AutomationExecution = step.execution
    approval = approval_of(step)
    context: dict[str, Any] = {
        "approval": approval,
        "execution": execution,
        "approver": user,
        "votes": (step.output or {}).get("votes") or [],
    }
    if claim.nonce in ((step.output or {}).get("links_used") or []):
        context["problem"] = "This link was used already: each link decides once."
        return _page(request, context, status=410)
    if approval is None or not approval.is_open or execution.status != "waiting":
        context["problem"] = "This approval is no longer open: it was decided, or the run ended."
        return _page(request, context, status=410)
    form = DecisionForm(request.POST or None, fields=approval.fields)
    context["form"] = form
    if request.method == "GET":
        return _page(request, context)
    if not form.is_valid():
        return _page(request, context, status=400)
    approved = "approve" in request.POST
    try:
        execution_decide(
            execution=execution,
            approved=approved,
            user=user,
            comment=form.cleaned_data["comment"],
            fields=form.edits() if approved else None,
            via="link",
            link=claim,
            actor=Actor(ActorKind.USER, user.get_username(), user.pk),
        )
    except (ExecutionConflict, ApprovalRefused) as exc:
        context["problem"] = str(exc)
        return _page(request, context, status=409)
    step.refresh_from_db()
    context.update(
        done="approved" if approved else "rejected",
        decision=(step.output or {}).get("decision"),
        votes=(step.output or {}).get("votes") or [],
        form=None,
    )
    return _page(request, context)
