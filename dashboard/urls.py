"""The staff dashboard (five tabs, each its own URL) and the user widget."""

from django.contrib.auth.views import LogoutView
from django.urls import path

from dashboard.views import (
    alerts,
    audit,
    bulk,
    editor,
    executions,
    jobs,
    orchestration_edit,
    orchestrations,
    overview,
    replay,
    revisions,
    suites,
    versions,
    workflows,
)

app_name = "dashboard"

urlpatterns = [
    path("login/", overview.SignInView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="dashboard:login"), name="logout"),
    path("stats/", overview.stats_header, name="stats"),
    path("widget/", overview.widget, name="widget"),
    path("widget/panel/", overview.widget_panel, name="widget-panel"),
    # Workflows (the first tab is the dashboard's home)
    path("", workflows.workflow_list, name="workflows"),
    path("workflows/new/", editor.workflow_new, name="workflow-create"),
    path("workflows/catalogue/", editor.action_catalogue, name="action-catalogue"),
    path("workflows/cron/", editor.cron_preview, name="cron-preview"),
    path("workflows/preview/", editor.template_preview, name="template-preview"),
    path("workflows/<int:workflow_id>/", workflows.workflow_detail, name="workflow-detail"),
    path("workflows/<int:workflow_id>/edit/", editor.workflow_edit, name="workflow-edit"),
    path("workflows/<int:workflow_id>/run/", workflows.workflow_run, name="workflow-run"),
    path(
        "workflows/<int:workflow_id>/activate/",
        workflows.workflow_activate,
        name="workflow-activate",
    ),
    path(
        "workflows/<int:workflow_id>/pause/",
        workflows.workflow_schedule_pause,
        name="workflow-schedule-pause",
    ),
    path("workflows/<int:workflow_id>/tests/", suites.workflow_tests, name="workflow-tests"),
    path(
        "workflows/<int:workflow_id>/tests/run/",
        suites.workflow_tests_run_view,
        name="workflow-tests-run",
    ),
    path(
        "workflows/<int:workflow_id>/tests/<int:test_id>/delete/",
        suites.workflow_test_delete,
        name="workflow-test-delete",
    ),
    path(
        "workflows/<int:workflow_id>/backfill/",
        workflows.workflow_backfill,
        name="workflow-backfill",
    ),
    path(
        "workflows/<int:workflow_id>/delete/",
        workflows.workflow_delete_confirm,
        name="workflow-delete",
    ),
    path(
        "workflows/<int:workflow_id>/dry-run/",
        workflows.workflow_dry_run_view,
        name="workflow-dry-run",
    ),
    path(
        "workflows/<int:workflow_id>/revisions/",
        revisions.revision_list,
        name="workflow-revisions",
    ),
    path(
        "workflows/<int:workflow_id>/draft/publish/",
        revisions.draft_publish_view,
        name="workflow-draft-publish",
    ),
    path(
        "workflows/<int:workflow_id>/draft/discard/",
        revisions.draft_discard_view,
        name="workflow-draft-discard",
    ),
    path(
        "workflows/<int:workflow_id>/revisions/<int:number>/restore/",
        revisions.revision_restore_confirm,
        name="workflow-revision-restore",
    ),
    # Executions
    path("executions/", executions.execution_list, name="executions"),
    path("executions/rows/", executions.execution_rows, name="execution-rows"),
    path("executions/bulk/", bulk.execution_bulk_confirm, name="execution-bulk"),
    path("executions/bulk/apply/", bulk.execution_bulk_apply, name="execution-bulk-apply"),
    path("executions/<int:execution_id>/", executions.execution_detail, name="execution-detail"),
    path("executions/<int:execution_id>/live/", executions.execution_live, name="execution-live"),
    path(
        "executions/<int:execution_id>/retry/",
        executions.execution_retry_view,
        name="execution-retry",
    ),
    path(
        "executions/<int:execution_id>/cancel/",
        executions.execution_cancel_view,
        name="execution-cancel",
    ),
    path(
        "executions/<int:execution_id>/replay/",
        replay.execution_replay_view,
        name="execution-replay",
    ),
    path(
        "executions/<int:execution_id>/run-again/",
        executions.execution_run_again,
        name="execution-run-again",
    ),
    path(
        "executions/<int:execution_id>/approve/",
        executions.execution_approve_view,
        name="execution-approve",
    ),
    path(
        "executions/<int:execution_id>/reject/",
        executions.execution_reject_view,
        name="execution-reject",
    ),
    path("jobs/<int:job_id>/", jobs.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/live/", jobs.job_live, name="job-live"),
    path("jobs/<int:job_id>/cancel/", jobs.job_cancel_view, name="job-cancel"),
    # Alerts, notifications and connections
    path("alerts/", alerts.alert_overview, name="alerts"),
    path("alerts/new/", alerts.alert_new, name="alert-create"),
    path("alerts/<int:alert_id>/", alerts.alert_detail, name="alert-detail"),
    path("alerts/<int:alert_id>/edit/", alerts.alert_edit, name="alert-edit"),
    path("alerts/<int:alert_id>/test/", alerts.alert_test_view, name="alert-test"),
    path(
        "notifications/<int:notification_id>/read/",
        alerts.notification_read,
        name="notification-read",
    ),
    path("notifications/read-all/", alerts.notifications_read_all, name="notifications-read-all"),
    path("connections/new/", alerts.connection_new, name="connection-create"),
    path(
        "connections/<int:connection_id>/verify/",
        alerts.connection_verify_view,
        name="connection-verify",
    ),
    # Versions
    path("versions/", versions.article_list, name="versions"),
    path("versions/<int:article_id>/", versions.article_detail, name="article-detail"),
    path(
        "versions/<int:article_id>/revert/<int:version_number>/",
        versions.version_revert_confirm,
        name="version-revert",
    ),
    # API orchestration
    path("audit/", audit.audit_list, name="audit"),
    path("orchestrations/", orchestrations.orchestration_list, name="orchestrations"),
    path(
        "orchestrations/new/",
        orchestration_edit.orchestration_new,
        name="orchestration-create",
    ),
    path(
        "orchestrations/<int:orchestration_id>/edit/",
        orchestration_edit.orchestration_edit,
        name="orchestration-edit",
    ),
    path(
        "orchestrations/<int:orchestration_id>/",
        orchestrations.orchestration_detail,
        name="orchestration-detail",
    ),
    path(
        "orchestrations/<int:orchestration_id>/runs/",
        orchestrations.orchestration_runs,
        name="orchestration-runs",
    ),
]
