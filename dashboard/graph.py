"""A workflow's steps as a graph for a server-rendered SVG, coloured by one run's step statuses:
the trigger, then each step in the order it runs, the condition that guards a step written on
the edge into it. Only geometry and words here; the template draws it."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dashboard.templatetags.dashboard_tags import tone

WIDTH = 360
NODE_HEIGHT = 48
GAP = 34  # between two nodes, room for the edge and its condition
MARGIN = 8
MAX_CHARS = 40  # SVG text does not wrap: longer text is cut, the whole of it is the tooltip
NOT_RUN = "not run"


@dataclass(frozen=True)
class Node:
    y: int
    title: str
    detail: str
    status: str
    tone: str
    tooltip: str


@dataclass(frozen=True)
class Edge:
    y1: int
    y2: int
    label: str


@dataclass(frozen=True)
class StepGraph:
    width: int
    height: int
    center: int
    node_width: int
    margin: int
    node_height: int
    nodes: list[Node]
    edges: list[Edge]
    summary: str


def _cut(text: str, limit: int = MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _trigger_node(trigger: Mapping[str, Any], schedule: str) -> Node:
    kind = str(trigger.get("type", "manual"))
    detail = schedule if kind == "schedule" and schedule else str(trigger.get("event", ""))
    return Node(MARGIN, f"Trigger: {kind}", _cut(detail), "", "muted", f"Trigger: {kind} {detail}")


def _step_node(index: int, action: Mapping[str, Any], status: str) -> Node:
    name = str(action.get("name") or action.get("id", ""))
    title = f"{index + 1}. {name}"
    extra = " · continues on failure" if action.get("continue_on_failure") else ""
    detail = f"{action.get('type', '')} · {status}{extra}"
    y = MARGIN + (index + 1) * (NODE_HEIGHT + GAP)
    return Node(y, _cut(title), _cut(detail), status, tone(status), f"{title} ({detail})")


def workflow_graph(
    *,
    trigger: Mapping[str, Any],
    schedule: str,
    actions: Sequence[Mapping[str, Any]],
    statuses: Mapping[str, str],
) -> StepGraph:
    """The graph of ``actions``; ``statuses`` gives each step's status by id (from one run; a
    step it lacks did not run)."""
    nodes = [_trigger_node(trigger, schedule)]
    edges = []
    for index, action in enumerate(actions):
        status = statuses.get(str(action.get("id", "")), NOT_RUN)
        node = _step_node(index, action, status)
        condition = action.get("condition")
        label = _cut(f"if {condition}", MAX_CHARS - 6) if condition else ""
        edges.append(Edge(nodes[-1].y + NODE_HEIGHT, node.y, label))
        nodes.append(node)
    steps = "; ".join(node.tooltip for node in nodes[1:]) or "no steps"
    return StepGraph(
        width=WIDTH,
        height=nodes[-1].y + NODE_HEIGHT + MARGIN,
        center=WIDTH // 2,
        node_width=WIDTH - 2 * MARGIN,
        margin=MARGIN,
        node_height=NODE_HEIGHT,
        nodes=nodes,
        edges=edges,
        summary=f"{nodes[0].tooltip.strip()}, then {steps}.",
    )
