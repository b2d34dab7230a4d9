"""Response shapes of the analytics endpoints, for the OpenAPI schema (the selectors return
plain data that is rendered as is)."""

from rest_framework import serializers


class BucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()


class TimelineSerializer(serializers.Serializer):
    hourly = BucketSerializer(many=True, help_text="The last 24 hours, oldest first.")
    daily = BucketSerializer(many=True, help_text="The last 30 days (UTC), oldest first.")


class ExecutionCountersSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    last_24h = serializers.IntegerField()
    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    waiting = serializers.IntegerField(help_text="Paused by an approval or a wait step.")
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    success_rate = serializers.FloatField(
        allow_null=True, help_text="completed ÷ (completed + failed); null when neither."
    )
    avg_execution_time_ms = serializers.FloatField(
        allow_null=True,
        help_text="Active time (what the steps took; waits, backoff and queueing are not in it), "
        "averaged over every completed or failed execution kept.",
    )
    p50_execution_time_ms = serializers.IntegerField(
        allow_null=True, help_text="Active time, over the most recent 1,000 finished executions."
    )
    p95_execution_time_ms = serializers.IntegerField(
        allow_null=True, help_text="Active time, over the most recent 1,000 finished executions."
    )
    p50_queue_wait_ms = serializers.IntegerField(
        allow_null=True,
        help_text="Created → started (waiting for a worker), over the same 1,000 executions.",
    )
    p95_queue_wait_ms = serializers.IntegerField(allow_null=True)


class WorkflowCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    active = serializers.IntegerField()


class FailingWorkflowSerializer(serializers.Serializer):
    workflow_id = serializers.IntegerField()
    name = serializers.CharField()
    failure_count = serializers.IntegerField()
    failure_rate = serializers.FloatField()
    last_error = serializers.CharField()


class ActivitySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[
            "execution.started",
            "execution.finished",
            "alert.sent",
            "version.created",
            "connection.verified",
        ]
    )
    at = serializers.DateTimeField()
    title = serializers.CharField()
    detail = serializers.CharField()
    link = serializers.CharField()
    object_id = serializers.IntegerField()


class ActivityPageSerializer(serializers.Serializer):
    results = ActivitySerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="The next page's URL; null at the end.")


class ComponentSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    latency_ms = serializers.FloatField()
    detail = serializers.CharField()


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded", "down"])
    checked_at = serializers.DateTimeField()
    components = serializers.DictField(child=ComponentSerializer())


class StatsSerializer(serializers.Serializer):
    workflows = WorkflowCountsSerializer()
    executions = ExecutionCountersSerializer()
    timeline = TimelineSerializer()
    top_failing_workflows = FailingWorkflowSerializer(many=True)
    recent_activity = ActivitySerializer(many=True)
    health = HealthSerializer()


class StepFailuresSerializer(serializers.Serializer):
    step_id = serializers.CharField()
    step_type = serializers.CharField()
    failures = serializers.IntegerField()
    last_error = serializers.CharField()


class WorkflowStatsDetailSerializer(serializers.Serializer):
    workflow_id = serializers.IntegerField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    run_count = serializers.IntegerField(help_text="Runs finished over the workflow's lifetime.")
    success_count = serializers.IntegerField()
    failure_count = serializers.IntegerField()
    last_run_at = serializers.DateTimeField(allow_null=True)
    last_status = serializers.CharField()
    executions = ExecutionCountersSerializer()
    executions_by_status = serializers.DictField(child=serializers.IntegerField())
    success_rate = serializers.FloatField(allow_null=True)
    avg_execution_time_ms = serializers.FloatField(allow_null=True)
    p50_execution_time_ms = serializers.IntegerField(allow_null=True)
    p95_execution_time_ms = serializers.IntegerField(allow_null=True)
    timeline = TimelineSerializer()
    failures_by_step = StepFailuresSerializer(many=True)
