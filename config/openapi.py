"""The OpenAPI schema's error responses: every operation documents the errors it can answer with,
so a client (and the schema fuzzing in tests/security) knows a 400 or a 429 is part of the contract.

Errors are JSON as DRF writes them: ``{"detail": "..."}`` or ``{"field": ["message", ...], ...}``.
"""

from typing import Any

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
    "413": "Request body over REQUEST_BODY_MAX_BYTES.",
    "415": "The body is not JSON.",
    "429": "Too many requests (or failed tokens) from here; see Retry-After.",
    "503": "The database is unavailable; see Retry-After.",
}
_WITH_BODY = ("post", "put", "patch")
_ANONYMOUS = ("401", "403")


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
    """drf-spectacular postprocessing hook: add the error responses (and the Error component)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status in _statuses(method, operation):
                operation["responses"].setdefault(
                    status, {"description": _DESCRIPTIONS[status], "content": reference}
                )
    return result
