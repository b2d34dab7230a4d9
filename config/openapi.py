"""The OpenAPI document: what drf-spectacular generates, made into one clients can rely on.

- Every operation has a summary and the tag of the app that serves it (declared, with a
  description, in SPECTACULAR_SETTINGS["TAGS"]), so generated clients get one module per app.
- Every operation documents the errors it can answer with, each with a JSON body
  (``{"detail": "..."}`` or ``{"field": ["message", ...], ...}`` as DRF writes them), and
  Retry-After where it is sent, so a client (and the schema fuzzing in tests/security) knows a
  400 or a 429 is part of the contract.
- Paths are written without the trailing slash (the API answers both forms).
- A nullable value is ``nullable`` beside a ``type``, never beside an ``allOf`` wrapper.
- A workflow's actions are a oneOf told apart by ``type``, each with its params schema
  (workflows.catalogue).
"""

import copy
import json
import re
from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

from workflows.catalogue import actions_openapi_components

ERROR_SCHEMA = {
    "type": "object",
    "description": 'Either {"detail": "..."} or field errors: {"field": ["message", ...]}.',
    "additionalProperties": True,
    "properties": {"detail": {"type": "string"}},
}
_DESCRIPTIONS = {
    "400": "Invalid input; the body names each field and what is wrong with it.",
    "401": "No credentials, or a bad or revoked token.",
    "403": "Signed in, but not allowed (staff only).",
    "404": "No such object (or page).",
    "409": "The object's state does not allow this now.",
    "413": "Request body over REQUEST_BODY_MAX_BYTES.",
    "415": "The body is not JSON.",
    "429": "Too many requests (or failed tokens) from here; see Retry-After.",
    "503": "The database is unavailable; see Retry-After.",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}
_WITH_BODY = ("post", "put", "patch")
_ANONYMOUS = ("401", "403")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_CRUD_SUMMARIES = {
    "list": "List {plural}",
    "create": "Create {one}",
    "retrieve": "Get {one}",
    "update": "Replace {one}",
    "partial_update": "Update {one}",
    "destroy": "Delete {one}",
}


class AutoSchema(SpectacularAutoSchema):
    """Tags operations by the app that serves them, and gives each a summary: the first
    sentence of the handler's own docstring, else for the CRUD verbs of a viewset the verb and
    the noun ("List workflows"), else the view's docstring."""

    def get_tags(self) -> list[str]:
        return [type(self.view).__module__.split(".")[0]]

    def get_summary(self) -> str | None:
        action = getattr(self.view, "action", None)
        handler = getattr(self.view, action or self.method.lower(), None)
        own = _first_sentence(getattr(handler, "__doc__", None))
        if own or action not in _CRUD_SUMMARIES:
            return own or _first_sentence(type(self.view).__doc__)
        plural = self._tokenize_path()[0].replace("-", " ")
        one = plural.removesuffix("s")
        article = "an" if one[:1] in "aeiou" else "a"
        return _CRUD_SUMMARIES[action].format(plural=plural, one=f"{article} {one}")


def _first_sentence(doc: str | None) -> str | None:
    text = " ".join((doc or "").split()).replace("``", "")
    return re.split(r"[.:;] ", text)[0].rstrip(".") or None


def _operations(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (method, operation)
        for item in result.get("paths", {}).values()
        for method, operation in item.items()
        if method in _METHODS and isinstance(operation, dict)
    ]


def _statuses(method: str, operation: dict[str, Any]) -> list[str]:
    statuses = ["400", "404", "429", "503"]
    if {} not in operation.get("security", [{}]):  # [{}]: open to anonymous callers
        statuses += _ANONYMOUS
    if method in _WITH_BODY:
        statuses += ["413", "415"]
    return statuses


def error_responses_document(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the error responses (and the Error component);
    an error response declared without a body gets the Error body."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for method, operation in _operations(result):
        if "responses" not in operation:
            continue
        responses = operation["responses"]
        for status in _statuses(method, operation):
            responses.setdefault(status, {"description": _DESCRIPTIONS[status]})
        for status, response in responses.items():
            if not status.startswith(("4", "5")):
                continue
            response.setdefault("content", reference)
            if response.get("description") in (None, ""):
                response["description"] = _DESCRIPTIONS.get(status, "Error.")
            if status in ("429", "503"):
                response.setdefault("headers", _RETRY_AFTER)
    return result


def actions_document(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the action definitions, one per action type."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(
        actions_openapi_components()
    )
    return result


def paths_tidy_document(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: paths without the trailing slash, and ``nullable``
    always beside a ``type``: a nullable ``allOf`` of one reference becomes the referenced
    schema itself, made nullable; a nullable value of any type loses ``nullable`` (null is one
    of any)."""
    result["paths"] = {path.rstrip("/") or "/": item for path, item in result["paths"].items()}
    schemas = result.get("components", {}).get("schemas", {})
    inlined: set[str] = set()
    _nullable_fix(result, schemas, inlined)
    document = json.dumps(result, default=str)
    for name in inlined:
        if f'"#/components/schemas/{name}"' not in document:
            del schemas[name]
    return result


def _nullable_fix(node: Any, schemas: dict[str, Any], inlined: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _nullable_fix(item, schemas, inlined)
        return
    if not isinstance(node, dict):
        return
    if node.get("nullable") and "type" not in node:
        wrapped = node.get("allOf")
        if isinstance(wrapped, list) and len(wrapped) == 1 and "$ref" in wrapped[0]:
            name = wrapped[0]["$ref"].rsplit("/", 1)[-1]
            inlined.add(name)
            target = schemas[name]
            del node["allOf"]
            node.update({**copy.deepcopy(target), **node})
        elif not {"oneOf", "anyOf", "allOf", "$ref"} & set(node):
            del node["nullable"]
    for value in list(node.values()):
        _nullable_fix(value, schemas, inlined)
