"""The step graph: the trigger, then each step in order, coloured by one run's statuses and
saying them in words, drawn as SVG on the workflow's page and the execution's."""

import re

from dashboard.graph import workflow_graph
from tests.factories import ExecutionFactory, ExecutionStepFactory, WorkflowFactory

ACTIONS = [
    {"id": "fetch", "type": "api_call", "params": {"url": "https://example.com"}},
    {"id": "shape", "type": "transform", "condition": "steps.fetch.ok", "params": {}},
    {"id": "tell", "type": "notify", "continue_on_failure": True, "params": {}},
]


def test_the_graph_puts_the_steps_in_order_under_the_trigger_with_their_statuses():
    graph = workflow_graph(
        trigger={"type": "schedule"},
        schedule="0 9 * * *",
        actions=ACTIONS,
        statuses={"fetch": "completed", "shape": "failed"},
    )
    assert [node.title for node in graph.nodes] == [
        "Trigger: schedule",
        "1. fetch",
        "2. shape",
        "3. tell",
    ]
    assert [node.tone for node in graph.nodes[1:]] == ["ok", "bad", "muted"]
    assert graph.nodes[3].detail == "notify · not run · continues on failure"
    assert [edge.label for edge in graph.edges] == ["", "if steps.fetch.ok", ""]
    assert all(edge.y1 < edge.y2 for edge in graph.edges)
    assert graph.height > graph.nodes[-1].y
    assert "2. shape (transform · failed)" in graph.summary


def test_a_long_name_is_cut_in_the_node_and_whole_in_its_tooltip():
    name = "x" * 120
    graph = workflow_graph(
        trigger={}, schedule="", actions=[{"id": "a", "name": name, "type": "wait"}], statuses={}
    )
    assert len(graph.nodes[1].title) <= 40 and graph.nodes[1].title.endswith("…")
    assert name in graph.nodes[1].tooltip


def test_the_execution_page_draws_the_graph_of_its_run(staff_client):
    execution = ExecutionFactory(definition={"trigger": {"type": "manual"}, "actions": ACTIONS})
    ExecutionStepFactory(execution=execution, step_id="fetch", step_index=0, status="completed")
    ExecutionStepFactory(execution=execution, step_id="shape", step_index=1, status="failed")
    page = staff_client.get(f"/dashboard/executions/{execution.pk}/").content.decode()
    graph = page[page.index('id="execution-graph"') : page.index("</svg>")]
    statuses = re.findall(r'class="graph-node tone-(\w+)" data-status="([^"]*)"', graph)
    assert statuses == [("muted", ""), ("ok", "completed"), ("bad", "failed"), ("muted", "not run")]


def test_the_workflow_page_colours_the_graph_by_the_last_run(staff_client):
    workflow = WorkflowFactory(actions=ACTIONS[:1])
    ExecutionStepFactory(execution=ExecutionFactory(workflow=workflow), step_id="fetch")
    last = ExecutionFactory(workflow=workflow)
    ExecutionStepFactory(execution=last, step_id="fetch", status="failed")
    page = staff_client.get(f"/dashboard/workflows/{workflow.pk}/").content.decode()
    assert 'class="graph-node tone-bad" data-status="failed"' in page
    assert f"execution #{last.pk}" in page
