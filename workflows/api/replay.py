"""The shapes of a replay (SPEC §11): what a client asks for, and the plan it is shown first."""

from typing import Any

from rest_framework import serializers

from core.strict import StrictSerializer
from workflows.services.replay import (
    AGAIN,
    CARRIED,
    MARK_STATUSES,
    MARKED,
    NEW_EFFECT,
    NO_EFFECTS,
    RECORDED,
    REVISIONS,
    RUNS,
)


class ReplayMarkSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=MARK_STATUSES)
    output = serializers.JSONField(
        required=False,
        default=dict,
        help_text="The output later steps read from this step (completed only).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["status"] == "skipped" and attrs["output"] not in ({}, None):
            raise serializers.ValidationError({"output": ["A skipped step has no output."]})
        if attrs["output"] is None:
            attrs["output"] = {}
        return attrs


class ReplayRequestSerializer(StrictSerializer):
    from_step = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        max_length=64,
        help_text="The step to start from (its id); null or absent: from the start.",
    )
    revision = serializers.ChoiceField(
        choices=REVISIONS,
        default="original",
        help_text="Run the definition the execution ran with, or the workflow's current one.",
    )
    mark = serializers.DictField(
        child=ReplayMarkSerializer(),
        required=False,
        default=dict,
        help_text="Steps not to run: {step_id: {status: completed|skipped, output}}.",
    )
    force_effects = serializers.BooleanField(
        default=False,
        help_text="Make again the effects the origin already made (posts, messages, commits).",
    )


class ReplayPreviewQuerySerializer(StrictSerializer):
    from_step = serializers.CharField(required=False, default=None, max_length=64)
    revision = serializers.ChoiceField(choices=REVISIONS, default="original")
    force_effects = serializers.BooleanField(default=False)


class ReplayStepPlanSerializer(serializers.Serializer):
    step_id = serializers.CharField()
    type = serializers.CharField()
    name = serializers.CharField()
    plan = serializers.ChoiceField(
        choices=[CARRIED, MARKED, RUNS],
        help_text="carried: the origin's output is kept; marked: not run; runs: runs again.",
    )
    effects = serializers.ChoiceField(
        choices=[NO_EFFECTS, NEW_EFFECT, RECORDED, AGAIN],
        help_text="For a step that runs: none (no side effects), new (not made by the origin), "
        "recorded (made by the origin: recalled, not made again), again (force_effects).",
    )


class ReplayPlanSerializer(serializers.Serializer):
    execution_id = serializers.IntegerField()
    revision = serializers.ChoiceField(choices=REVISIONS)
    from_step = serializers.CharField(allow_null=True)
    force_effects = serializers.BooleanField()
    steps = ReplayStepPlanSerializer(many=True)


class ReplayAcceptedSerializer(serializers.Serializer):
    execution_id = serializers.IntegerField()
    status = serializers.CharField()
    replay_of = serializers.IntegerField()
    replay_from_step = serializers.CharField(allow_null=True)
