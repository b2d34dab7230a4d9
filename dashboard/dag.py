"""The dependency preview of an orchestration: its calls in the stages they can run in (a call's
stage comes after every call it waits for), and the calls that never can (in a cycle, or after
one). Dependencies on unknown calls are left out: the form says so beside the call."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    id: str
    waits_for: tuple[str, ...]


@dataclass(frozen=True)
class Preview:
    stages: list[list[Node]]
    blocked: list[Node]


def dag_preview(call_ids: Sequence[str], dependencies: Mapping[str, Sequence[str]]) -> Preview:
    known = set(call_ids)
    waits = {
        call_id: tuple(dep for dep in dependencies.get(call_id, ()) if dep in known)
        for call_id in dict.fromkeys(call_ids)
    }
    placed: set[str] = set()
    stages: list[list[Node]] = []
    while True:
        ready = [
            Node(call_id, deps)
            for call_id, deps in waits.items()
            if call_id not in placed and placed.issuperset(deps)
        ]
        if not ready:
            break
        stages.append(ready)
        placed.update(node.id for node in ready)
    blocked = [Node(call_id, deps) for call_id, deps in waits.items() if call_id not in placed]
    return Preview(stages, blocked)
