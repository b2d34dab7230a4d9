"""A job's page: a bulk replay's or a backfill's progress — items gone through, runs started
and refused (each with why), its runs by status — polled while it runs, with a Cancel."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dashboard.views.access import staff_required
from workflows.models import Job, JobStatus
from workflows.services.audit import actor_of_request
from workflows.services.executions import ExecutionConflict
from workflows.services.jobs import job_cancel, job_progress

TAB = {"tab": "executions"}
RECENT_RUNS = 20


def _context(job_id: int) -> dict[str, object]:
    job = get_object_or_404(Job.objects.select_related("workflow"), pk=job_id)
    progress = job_progress(job)
    percent = round(100 * job.position / job.total) if job.total else 100
    return {
        **TAB,
        "job": job,
        "progress": progress,
        "percent": percent,
        "running": job.status == JobStatus.RUNNING,
        "runs": job.executions.order_by("-pk")[:RECENT_RUNS],
    }


@staff_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    return render(request, "dashboard/jobs/detail.html", _context(job_id))


@staff_required
def job_live(request: HttpRequest, job_id: int) -> HttpResponse:
    """The progress alone, polled while the job runs."""
    return render(request, "dashboard/jobs/live.html", _context(job_id))


@staff_required
@require_POST
def job_cancel_view(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=job_id)
    try:
        job_cancel(job=job, actor=actor_of_request(request))
    except ExecutionConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Job #{job.pk} stops before its next batch.")
    return redirect("dashboard:job-detail", job.pk)
