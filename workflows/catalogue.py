"""What the action types are, from the registry and each type's schema: the catalogue the API
serves (``GET actions``), the action definitions of the OpenAPI document, and docs/actions.md."""

from typing import Any

from workflows.actions.registry import ACTION_TYPES, action_get, action_types
from workflows.actions.schema import Schema, schema_openapi, schema_templated
from workflows.definition import ACTION_SCHEMA

_COMPONENTS = "#/components/schemas/"
ACTION_COMPONENT = "WorkflowAction"


def action_catalogue_list(*, include_extra: bool = True) -> list[dict[str, Any]]:
    """Every action type: ``{type, group, title, description, params_schema, side_effects,
    example}``, in registry order; ``include_extra=False`` leaves out the installation's own
    (ACTION_TYPES_EXTRA)."""
    catalogue = []
    for action_type in action_types() if include_extra else ACTION_TYPES:
        executor = action_get(action_type)
        catalogue.append(
            {
                "type": action_type,
                "group": executor.group,
                "title": executor.label or action_type,
                "description": executor.description,
                "params_schema": executor.params_schema,
                "side_effects": executor.side_effects,
                "example": executor.example,
            }
        )
    return catalogue


def _component_name(action_type: str) -> str:
    return "".join(part.capitalize() for part in action_type.split("_"))


def actions_openapi_components() -> dict[str, Schema]:
    """OpenAPI 3.0 components: ``WorkflowAction``, a oneOf of one action definition per type
    told apart by ``type``, and each type's definition and params (as saved: fields marked
    ``x-template`` also take a template)."""
    envelope = schema_openapi(ACTION_SCHEMA)
    components: dict[str, Schema] = {"ActionRetry": envelope["properties"]["retry"]}
    envelope["properties"]["retry"] = {"$ref": f"{_COMPONENTS}ActionRetry"}
    mapping: dict[str, str] = {}
    for entry in action_catalogue_list():
        name = _component_name(entry["type"])
        params = schema_openapi(schema_templated(entry["params_schema"]))
        components[f"{name}Params"] = {**params, "description": entry["title"]}
        components[f"{name}Action"] = {
            **envelope,
            "description": entry["description"] or entry["title"],
            "properties": {
                **envelope["properties"],
                "type": {"type": "string", "enum": [entry["type"]]},
                "params": {"$ref": f"{_COMPONENTS}{name}Params"},
            },
        }
        mapping[entry["type"]] = f"{_COMPONENTS}{name}Action"
    components[ACTION_COMPONENT] = {
        "description": "One step of a workflow; `type` says which action, and so which params.",
        "oneOf": [{"$ref": reference} for reference in mapping.values()],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }
    return components
