"""``transform``: computes named values from templates, with no I/O (n8n's "Set" node)."""

from typing import Any

from rest_framework import serializers

from workflows.actions.base import Action, StepRun


class TransformParams(serializers.Serializer):
    values = serializers.DictField(child=serializers.JSONField(), allow_empty=False)

    def validate_values(self, values: dict[str, Any]) -> dict[str, Any]:
        bad = [name for name in values if not name.isidentifier()]
        if bad:
            raise serializers.ValidationError(
                f"Value names must be identifiers (letters, digits, _): {', '.join(bad)}."
            )
        return values


class TransformAction(Action):
    type = "transform"
    label = "Transform values"
    side_effects = False
    params_serializer = TransformParams

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        return dict(params["values"])
