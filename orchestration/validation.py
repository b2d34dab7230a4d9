"""Validation of an orchestration's definition: its calls, their dependency graph, its retries.

Problems come back in DRF's error shape, keyed by the call they concern, so a client sees which
call is wrong: ``{"api_calls": {"fetch": {"url": ["..."]}}}``, ``{"dependencies": {"b": ["..."]}}``.
A call without a usable id is keyed by its position, ``"#2"``.
"""

import re
from typing import Any

from rest_framework import serializers

from integrations.selectors import connection_list
from orchestration.patterns import PATTERNS
from orchestration.patterns.graph import cycle_find
from orchestration.patterns.retry import BACKOFFS, MAX_ATTEMPTS, MAX_DELAY_S, TIMEOUT
from workflows.actions.api_call import METHODS
from workflows.actions.base import Templated
from workflows.extract import extract_errors
from workflows.templating import TemplateError, condition_check, params_check

MAX_CALLS = 100
CALL_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")
RETRY_KEYS = {"max_attempts", "backoff", "delay_s", "retry_on"}

Errors = dict[str, Any]


class CallSerializer(serializers.Serializer):
    id = serializers.RegexField(CALL_ID, error_messages={"invalid": "1-64 letters, digits or _."})
    method = serializers.ChoiceField(choices=METHODS, default="GET")
    url = Templated(serializers.URLField(max_length=2000))
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    query = serializers.DictField(child=serializers.JSONField(), required=False)
    body = serializers.JSONField(required=False, allow_null=True)
    connection = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    timeout_s = serializers.FloatField(min_value=0.1, max_value=300, required=False)
    condition = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    extract = serializers.DictField(child=serializers.CharField(), required=False)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            data = {**data, "method": data["method"].upper()}
        return super().to_internal_value(data)

    def validate_connection(self, connection_id: int | None) -> int | None:
        if connection_id is not None and not connection_list().filter(pk=connection_id).exists():
            raise serializers.ValidationError(f"Connection {connection_id} does not exist.")
        return connection_id

    def validate_condition(self, condition: str) -> str:
        if not condition:
            return condition
        if not PATTERNS[self.context["type"]].uses_conditions:
            raise serializers.ValidationError(
                "Only conditional orchestrations evaluate conditions: set type to conditional "
                "or remove the condition."
            )
        try:
            condition_check(condition)
        except TemplateError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return condition

    def validate_extract(self, extract: dict[str, str]) -> dict[str, str]:
        errors = extract_errors(extract)
        if errors:
            raise serializers.ValidationError(errors)
        return extract


def _call_errors(call: Any, pattern: str) -> Errors:
    if not isinstance(call, dict):
        return {"non_field_errors": ["Each call must be an object."]}
    serializer = CallSerializer(data=call, context={"type": pattern})
    unknown = sorted(set(call) - set(serializer.fields))
    if unknown:
        known = ", ".join(serializer.fields)
        return {name: [f"Unknown key. Known keys: {known}."] for name in unknown}
    if not serializer.is_valid():
        return dict(serializer.errors)
    templated = {key: call[key] for key in ("url", "headers", "query", "body") if key in call}
    return {path: [message] for path, message in params_check(templated).items()}


def _call_key(call: Any, index: int, seen: set[str]) -> str:
    call_id = call.get("id") if isinstance(call, dict) else None
    if isinstance(call_id, str) and CALL_ID.match(call_id) and call_id not in seen:
        return call_id
    return f"#{index}"


def _api_calls_errors(api_calls: Any, pattern: str) -> Errors:
    if not isinstance(api_calls, list) or not api_calls:
        return {"api_calls": ["Must be a non-empty list of calls."]}
    if len(api_calls) > MAX_CALLS:
        return {"api_calls": [f"At most {MAX_CALLS} calls (got {len(api_calls)})."]}
    per_call: Errors = {}
    seen: set[str] = set()
    for index, call in enumerate(api_calls):
        key = _call_key(call, index, seen)
        errors = _call_errors(call, pattern)
        call_id = call.get("id") if isinstance(call, dict) else None
        if isinstance(call_id, str) and call_id in seen:
            errors.setdefault("id", []).append(f"Duplicate call id '{call_id}'.")
        if isinstance(call_id, str):
            seen.add(call_id)
        if errors:
            per_call[key] = errors
    return {"api_calls": per_call} if per_call else {}


def _call_ids(api_calls: list[Any]) -> list[str]:
    """The ids the calls declare, in list order, each once."""
    ids = (call.get("id") for call in api_calls if isinstance(call, dict))
    return list(dict.fromkeys(i for i in ids if isinstance(i, str)))


def _dependencies_errors(dependencies: Any, call_ids: list[str]) -> Errors:
    if not isinstance(dependencies, dict):
        return {"dependencies": ["Must be an object of call id: [call ids it waits for]."]}
    known = set(call_ids)
    listing = ", ".join(call_ids)
    per_call: dict[str, list[str]] = {}
    for call_id, waits_for in dependencies.items():
        problems = []
        if call_id not in known:
            problems.append(f"Unknown call '{call_id}'. Known calls: {listing}.")
        if not isinstance(waits_for, list) or not all(isinstance(d, str) for d in waits_for):
            problems.append("Must be a list of call ids.")
        else:
            problems += [
                f"Depends on unknown call '{dep}'. Known calls: {listing}."
                for dep in waits_for
                if dep not in known
            ]
        if problems:
            per_call[str(call_id)] = problems
    if per_call:
        return {"dependencies": per_call}
    cycle = cycle_find(call_ids, dependencies)
    if cycle:
        return {"dependencies": {cycle[0]: [f"Dependency cycle: {' → '.join(cycle)}."]}}
    return {}


def _number_in(value: Any, low: float, high: float, *, integer: bool = False) -> bool:
    kinds = int if integer else int | float
    return isinstance(value, kinds) and not isinstance(value, bool) and low <= value <= high


def _retry_strategy_errors(strategy: Any) -> Errors:
    if not isinstance(strategy, dict):
        return {"retry_strategy": ["Must be an object."]}
    errors: dict[str, list[str]] = {}
    for key in sorted(set(strategy) - RETRY_KEYS):
        errors[key] = [f"Unknown key. Known keys: {', '.join(sorted(RETRY_KEYS))}."]
    if not _number_in(strategy.get("max_attempts", 1), 1, MAX_ATTEMPTS, integer=True):
        errors["max_attempts"] = [f"Must be an integer from 1 to {MAX_ATTEMPTS}."]
    if strategy.get("backoff", "exponential") not in BACKOFFS:
        errors["backoff"] = ["Must be 'fixed' or 'exponential'."]
    if not _number_in(strategy.get("delay_s", 1), 0, MAX_DELAY_S):
        errors["delay_s"] = [f"Must be a number of seconds from 0 to {MAX_DELAY_S:g}."]
    retry_on = strategy.get("retry_on", [])
    if not isinstance(retry_on, list) or not all(
        item == TIMEOUT or _number_in(item, 100, 599, integer=True) for item in retry_on
    ):
        errors["retry_on"] = ["Must be a list of HTTP status codes and/or 'timeout'."]
    return {"retry_strategy": errors} if errors else {}


def orchestration_validate(
    *, type: str, api_calls: Any, dependencies: Any, retry_strategy: Any
) -> None:
    """Raise serializers.ValidationError with every problem of the definition, by field and call.

    ``type`` must already be a known pattern.
    """
    errors: Errors = {}
    errors.update(_api_calls_errors(api_calls, type))
    errors.update(_retry_strategy_errors(retry_strategy))
    if isinstance(api_calls, list):
        errors.update(_dependencies_errors(dependencies, _call_ids(api_calls)))
    if errors:
        raise serializers.ValidationError(errors)
