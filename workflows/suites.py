"""Running a workflow's test suite: each saved case runs the workflow as it is now, in this
process, inside a transaction that is rolled back — so no row it writes, no notification, no
effect-ledger entry and no event outlives it — with nothing leaving the process: every HTTP
request is answered from the case's mocks (an unmocked one fails its step, naming it), mail and
Apprise say they sent without sending, and any other connection is refused
(integrations.http.outbound_sealed). Then the case's expectations are checked against the run:

    {"status": "completed", "error": "",
     "steps": {step_id: {"status", "input", "output", "error"}},
     "requests": ["POST https://hooks.slack.com/services/…", …]}

each a JMESPath ``path`` into that document with ``equals`` (the same JSON value), ``contains``
(an item of a list, a key of an object, a substring of a string) or ``matches`` (a regular
expression searched in the value's text). A run ends where the engine would hand it back to a
worker: a wait, an approval or a retry's backoff leave it ``waiting`` or ``queued``. Children a
``run_workflow`` step starts run in the case too, and a parent waiting for one goes on when it
finishes, as workers would run them.

A mock answers the requests whose URL starts with its ``url``, or, with ``connection`` (an id)
instead, those sent through that connection: to its webhook URL or its API base.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

import jmespath
from django.db import transaction
from django.utils import timezone

from integrations.http import OutboundMock, outbound_sealed
from integrations.selectors import connection_url
from workflows.engine import execution_run
from workflows.models import ActorKind, AutomationExecution, AutomationWorkflow, WorkflowTest
from workflows.services.audit import Actor
from workflows.services.dispatch import executions_due
from workflows.services.executions import execution_create
from workflows.services.overlap import OverlapSkipped

CHECKS = ("equals", "contains", "matches")
TREE_ROUNDS = 20


@dataclass
class CaseResult:
    name: str
    ok: bool
    failures: list[str] = field(default_factory=list)
    status: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "failures": self.failures, "status": self.status}


class _RolledBack(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("rolled back")
        self.result = result


def _result(execution: AutomationExecution, requests: list[str]) -> dict[str, Any]:
    return {
        "status": execution.status,
        "error": execution.error_message,
        "steps": {
            step.step_id: {
                "status": step.status,
                "input": step.input,
                "output": step.output,
                "error": step.error_message,
            }
            for step in execution.steps.order_by("step_index")
        },
        "requests": requests,
    }


def _run_tree(root: AutomationExecution) -> None:
    """Run the execution, then what it hands to workers in turn: the children it starts and
    itself again when a child's finish wakes it, until nothing in the tree is due (at most
    TREE_ROUNDS rounds). A retry's backoff or a wait is not due, and ends the case there."""
    tree = {root.pk}
    for _ in range(TREE_ROUNDS):
        tree |= set(
            AutomationExecution.objects.filter(parent_execution__in=tree).values_list(
                "pk", flat=True
            )
        )
        due = AutomationExecution.objects.filter(
            executions_due(timezone.now()), pk__in=tree
        ).order_by("pk")
        ran = list(due.values_list("pk", flat=True))
        if not ran:
            return
        for execution_id in ran:
            execution_run(execution_id=execution_id, worker="workflow-test")


def _mocks(given: list[dict[str, Any]]) -> list[OutboundMock]:
    """The case's mocks; a connection's stands for its URL, and one whose connection is gone
    (or sends no HTTP) answers nothing."""
    mocks = []
    for mock in given:
        fields = dict(mock)
        connection_id = fields.pop("connection", None)
        if connection_id is not None:
            fields["url"] = connection_url(connection_id)
        if fields.get("url"):
            mocks.append(OutboundMock(**fields))
    return mocks


def _run(workflow: AutomationWorkflow, case: WorkflowTest) -> dict[str, Any]:
    mocks = _mocks(case.mocks)
    try:
        with transaction.atomic(), outbound_sealed(mocks) as seal:
            execution, _ = execution_create(
                workflow=workflow,
                trigger_type="manual",
                payload=case.payload,
                triggered_by=Actor(ActorKind.USER, f"workflow test {case.name!r}"),
            )
            _run_tree(execution)
            execution.refresh_from_db()
            raise _RolledBack(_result(execution, seal.calls))
    except _RolledBack as done:
        return done.result


def _check(expectation: dict[str, Any], result: dict[str, Any]) -> str | None:
    """None when the expectation holds; else what was found instead."""
    path = expectation["path"]
    found = jmespath.search(path, result)
    shown = json.dumps(found, default=str)[:300]
    if "equals" in expectation:
        if found != expectation["equals"]:
            return f"{path}: expected {json.dumps(expectation['equals'])}, got {shown}"
        return None
    if "contains" in expectation:
        wanted = expectation["contains"]
        held = (
            wanted in found
            if isinstance(found, list | dict)
            or (isinstance(found, str) and isinstance(wanted, str))
            else False
        )
        return None if held else f"{path}: {shown} does not contain {json.dumps(wanted)}"
    text = found if isinstance(found, str) else json.dumps(found, default=str)
    if re.search(expectation["matches"], text) is None:
        return f"{path}: {shown} does not match {expectation['matches']!r}"
    return None


def workflow_tests_run(
    *, workflow: AutomationWorkflow, names: list[str] | None = None
) -> dict[str, Any]:
    """Run the workflow's saved cases (those named, else all) and check each. Returns
    ``{"passed", "failed", "cases": [{"name", "ok", "failures", "status"}]}``."""
    cases = WorkflowTest.objects.filter(workflow=workflow).order_by("name")
    if names:
        cases = cases.filter(name__in=names)
    results = []
    for case in cases:
        try:
            result = _run(workflow, case)
        except OverlapSkipped as exc:
            results.append(CaseResult(case.name, False, [str(exc)]))
            continue
        failures = [
            failure for expectation in case.expect if (failure := _check(expectation, result))
        ]
        results.append(CaseResult(case.name, not failures, failures, result["status"]))
    passed = sum(result.ok for result in results)
    return {
        "passed": passed,
        "failed": len(results) - passed,
        "cases": [result.as_dict() for result in results],
    }
