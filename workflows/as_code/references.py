"""Connections named instead of numbered in documents.

The convention: in an action's ``params``, a ``connection`` holding a connection id is written
``{"name": "<connection name>"}``, and so is each id of a ``connections`` list. Ids and
templates are left as they are (a template is resolved at run time, an id means "this
database"). Only names cross databases; credentials never leave theirs.
"""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from integrations.models import IntegrationConnection
from workflows.as_code.document import Errors

SINGLE_KEY = "connection"
LIST_KEY = "connections"


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def connection_ids_referenced(actions: Iterable[Any]) -> set[int]:
    """Every connection id the actions' params hold."""
    ids: set[int] = set()
    for action in actions:
        params = action.get("params") if isinstance(action, dict) else None
        if not isinstance(params, dict):
            continue
        if _is_id(params.get(SINGLE_KEY)):
            ids.add(params[SINGLE_KEY])
        if isinstance(params.get(LIST_KEY), list):
            ids.update(value for value in params[LIST_KEY] if _is_id(value))
    return ids


def connection_names(ids: Iterable[int]) -> dict[int, str]:
    """Connection names by id (nothing secret is read: only the two columns)."""
    rows = IntegrationConnection.objects.filter(pk__in=list(ids)).values_list("pk", "name")
    return dict(rows)


def actions_named(actions: list[Any], names: dict[int, str]) -> list[Any]:
    """The actions with each known connection id replaced by ``{"name": …}``."""

    def named(value: Any) -> Any:
        return {"name": names[value]} if _is_id(value) and value in names else value

    result = []
    for action in actions:
        params = action.get("params") if isinstance(action, dict) else None
        if not isinstance(params, dict) or not ({SINGLE_KEY, LIST_KEY} & set(params)):
            result.append(action)
            continue
        params = dict(params)
        if SINGLE_KEY in params:
            params[SINGLE_KEY] = named(params[SINGLE_KEY])
        if isinstance(params.get(LIST_KEY), list):
            params[LIST_KEY] = [named(value) for value in params[LIST_KEY]]
        result.append({**action, "params": params})
    return result


class ConnectionDirectory:
    """Connection ids by name in this database, read once per import."""

    def __init__(self) -> None:
        self.ids: dict[str, list[int]] = defaultdict(list)
        for pk, name in IntegrationConnection.objects.order_by("pk").values_list("pk", "name"):
            self.ids[name].append(pk)

    def resolve(self, reference: Any, path: str, errors: Errors) -> Any:
        """The id for a ``{"name": …}`` reference (anything else is returned unchanged);
        records a problem under ``path`` when the name is unknown or ambiguous."""
        if not isinstance(reference, dict):
            return reference
        name = reference.get("name")
        if set(reference) != {"name"} or not isinstance(name, str):
            errors.setdefault(path, []).append(
                'A connection reference is {"name": "<connection name>"}.'
            )
            return reference
        ids = self.ids.get(name, [])
        if len(ids) == 1:
            return ids[0]
        problem = (
            f"No connection named {name!r}."
            if not ids
            else f"{len(ids)} connections are named {name!r}; give them distinct names."
        )
        errors.setdefault(path, []).append(problem)
        return reference

    def actions_resolved(self, actions: Any, prefix: str, errors: Errors) -> Any:
        """The actions with every connection reference resolved to its id."""
        if not isinstance(actions, list):
            return actions
        result = []
        for index, action in enumerate(actions):
            params = action.get("params") if isinstance(action, dict) else None
            if not isinstance(params, dict):
                result.append(action)
                continue
            params = dict(params)
            base = f"{prefix}.actions.{index}.params"
            if SINGLE_KEY in params:
                params[SINGLE_KEY] = self.resolve(
                    params[SINGLE_KEY], f"{base}.{SINGLE_KEY}", errors
                )
            if isinstance(params.get(LIST_KEY), list):
                params[LIST_KEY] = [
                    self.resolve(value, f"{base}.{LIST_KEY}.{position}", errors)
                    for position, value in enumerate(params[LIST_KEY])
                ]
            result.append({**action, "params": params})
        return result
