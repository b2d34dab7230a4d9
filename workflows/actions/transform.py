"""``transform``: computes named values from templates, with no I/O (n8n's "Set" node)."""

from typing import Any

from workflows.actions.base import Action, StepRun


class TransformAction(Action):
    type = "transform"
    label = "Transform values"
    group = "data"
    description = (
        "Computes named values from templates, with no I/O: later steps read them as "
        "steps.<id>.<name>. A value that is exactly one {{ expression }} keeps its type."
    )
    side_effects = False
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["values"],
        "properties": {
            "values": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {
                    "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                    "x-messages": {
                        "pattern": "Value names must be identifiers (letters, digits, _): {value}."
                    },
                },
                "additionalProperties": {"x-template": True},
                "description": "{name: value}: each value (any JSON; strings may be "
                "templates) becomes the output's field of that name. Names are identifiers "
                "(letters, digits, _).",
            }
        },
    }
    example = {
        "id": "summary",
        "type": "transform",
        "params": {
            "values": {
                "headline": "{{ article.title | upper }}",
                "long_read": "{{ article.word_count > 1500 }}",
            }
        },
    }

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        return dict(params["values"])
