"""Workflows as code: export_workflows / import_workflows and GET export / POST import."""

import json
import subprocess
import sys
from io import StringIO

import pytest
import time_machine
import yaml
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.conftest import ROOT, process_env
from tests.factories import ConnectionFactory, WorkflowFactory
from workflows.as_code.document import FORMAT_VERSION
from workflows.as_code.exporting import DOCUMENT_FIELDS
from workflows.models import AutomationWorkflow, WorkflowRevision
from workflows.services.workflows import workflow_delete

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"
SECRET = "tok-5e1f0c7a-never-exported"
SIGNING = "whsec-0d2b6e9c-never-exported"


@pytest.fixture
def slack(db):
    return ConnectionFactory(
        name="Team Slack", platform="slack", credentials={"token": SECRET},
        webhook_url=f"https://hooks.slack.com/services/{SECRET}",
    )  # fmt: skip


@pytest.fixture
def hooks(db):
    return ConnectionFactory(name="Partner hook", webhook_url=f"https://hooks.example.com/{SECRET}")


@pytest.fixture
def workflows(api, slack, hooks) -> list[int]:
    """Three workflows over the API: connection references, a schedule, a webhook secret."""
    bodies = [
        {
            "name": "Share posts",
            "workflow_type": "social_sharing",
            "trigger": {"type": "publish", "filter": {"status": "published"}},
            "actions": [
                {
                    "id": "share",
                    "type": "share",
                    "params": {
                        "connections": [slack.pk, hooks.pk],
                        "message": "{{ article.title }}",
                    },
                },
                {
                    "id": "tell",
                    "type": "notify",
                    "condition": "article.word_count > 3",
                    "params": {"channel": "slack", "connection": slack.pk, "message": "shared"},
                },
            ],
        },
        {
            "name": "Nightly report",
            "description": "Posts the numbers",
            "trigger": {"type": "schedule", "timezone": "Europe/Paris"},
            "schedule": "0 6 * * *",
            "max_concurrency": 1,
            "actions": [
                {
                    "id": "get",
                    "type": "api_call",
                    "retry": {"max_attempts": 3},
                    "params": {"url": "https://api.example.com/stats", "connection": slack.pk},
                },
            ],
        },
        {
            "name": "Inbound",
            "is_active": False,
            "trigger": {"type": "webhook"},
            "webhook_secret": SIGNING,
            "actions": [{"id": "x", "type": "transform", "params": {"values": {"a": 1}}}],
        },
    ]
    ids = []
    for body in bodies:
        response = api.post(f"{BASE}/workflows", body, format="json")
        assert response.status_code == 201, response.json()
        ids.append(response.json()["id"])
    return ids


def definitions() -> dict[str, dict]:
    return {
        workflow.name: {field: getattr(workflow, field) for field in DOCUMENT_FIELDS}
        for workflow in AutomationWorkflow.objects.all()
    }


def export(*args: str) -> str:
    out = StringIO()
    call_command("export_workflows", *args, stdout=out)
    return out.getvalue()


def run_import(path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_workflows", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def invalid_import(path, *args: str) -> tuple[CommandError, str]:
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_workflows", str(path), *args, stdout=StringIO(), stderr=err)
    return raised.value, err.getvalue()


def test_export_then_import_into_an_empty_database_recreates_the_same_workflows(
    workflows, tmp_path
):
    before = definitions()
    path = tmp_path / "workflows.json"
    path.write_text(export())
    for workflow in AutomationWorkflow.objects.all():
        workflow_delete(workflow=workflow)
    assert not AutomationWorkflow.objects.exists()

    out, _ = run_import(path)

    assert "Imported: 3 created, 0 updated, 0 unchanged." in out
    assert definitions() == before
    recreated = AutomationWorkflow.objects.get(name="Nightly report")
    assert (recreated.trigger_type, recreated.schedule) == ("schedule", "0 6 * * *")
    assert recreated.revisions.get().change_note == "Imported from a workflow document."


def test_an_export_names_connections_and_holds_no_secret(workflows, slack, hooks):
    text = export()
    document = json.loads(text)
    assert document["version"] == 1
    assert [w["name"] for w in document["workflows"]] == [
        "Inbound",
        "Nightly report",
        "Share posts",
    ]
    share = document["workflows"][2]["actions"]
    assert share[0]["params"]["connections"] == [{"name": "Team Slack"}, {"name": "Partner hook"}]
    assert share[1]["params"]["connection"] == {"name": "Team Slack"}
    inbound = AutomationWorkflow.objects.get(name="Inbound")
    for secret in (SECRET, SIGNING, inbound.webhook_token):
        assert secret not in text
    assert set(document["workflows"][0]) == set(DOCUMENT_FIELDS)


def test_export_selects_workflows_by_name_and_writes_yaml_to_a_file(workflows, tmp_path):
    path = tmp_path / "one.yaml"
    call_command(
        "export_workflows", "--name", "Nightly report", "--format", "yaml", "--output", str(path),
        stderr=StringIO(),
    )  # fmt: skip
    document = yaml.safe_load(path.read_text())
    assert [w["name"] for w in document["workflows"]] == ["Nightly report"]
    with pytest.raises(CommandError) as raised:
        export("--name", "Nope")
    assert raised.value.returncode == 2


def test_a_yaml_document_imports_like_json(workflows, tmp_path):
    path = tmp_path / "all.yaml"
    path.write_text(export("--format", "yaml"))
    before = definitions()
    AutomationWorkflow.objects.all().delete()
    run_import(path)
    assert definitions() == before


def test_importing_the_same_document_twice_changes_nothing_the_second_time(workflows, tmp_path):
    path = tmp_path / "workflows.json"
    path.write_text(export())
    revisions = WorkflowRevision.objects.count()
    out, _ = run_import(path)
    assert "Imported: 0 created, 0 updated, 3 unchanged." in out
    assert WorkflowRevision.objects.count() == revisions


def test_an_import_updates_the_workflow_of_the_same_name_and_records_a_revision(
    workflows, tmp_path
):
    document = json.loads(export("--name", "Nightly report"))
    document["workflows"][0]["schedule"] = "30 7 * * 1-5"
    path = tmp_path / "edit.json"
    path.write_text(json.dumps(document))

    out, _ = run_import(path, "--note", "Weekdays only")

    assert "Nightly report: updated (schedule)" in out
    workflow = AutomationWorkflow.objects.get(name="Nightly report")
    assert workflow.schedule == "30 7 * * 1-5"
    latest = workflow.revisions.order_by("-number").first()
    assert (latest.number, latest.change_note, latest.changed_fields) == (
        2, "Weekdays only", ["schedule"],
    )  # fmt: skip


def test_a_dry_run_reports_the_plan_and_writes_nothing(workflows, tmp_path):
    document = json.loads(export())
    document["workflows"][1]["description"] = "Changed"
    document["workflows"].append({"name": "Brand new", "actions": []})
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    before, revisions = definitions(), WorkflowRevision.objects.count()

    with CaptureQueriesContext(connection) as queries:
        out, _ = run_import(path, "--dry-run")

    writes = [
        q["sql"] for q in queries if q["sql"].split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}
    ]
    assert writes == []
    assert definitions() == before and WorkflowRevision.objects.count() == revisions
    assert "Nightly report: would be updated (description)" in out
    assert "Brand new: would be created" in out
    assert "importing would leave 1 created, 1 updated, 2 unchanged" in out


def test_a_bad_document_lists_every_error_with_its_path_exits_2_and_writes_nothing(
    workflows, tmp_path
):
    document = {
        "version": 1,
        "workflows": [
            {"name": "Fine", "actions": []},
            {"name": "Broken", "trigger": {"type": "sometimes"},
             "actions": [{"id": "a", "type": "transform", "params": {"values": {}}},
                         {"id": "b", "type": "api_call", "params": {"method": "GET"}}]},
            {"name": "Lost", "actions": [{"id": "n", "type": "notify", "params": {
                "channel": "slack", "connection": {"name": "Gone Slack"}, "message": "hi"}}]},
            {"name": "Fine", "colour": "blue"},
        ],
    }  # fmt: skip
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))

    error, err = invalid_import(path)

    assert error.returncode == 2
    lines = err.splitlines()
    assert "workflows[1].actions.1.params.url: This field is required." in lines
    assert any(line.startswith("workflows[1].trigger.type: Unknown trigger type") for line in lines)
    assert "workflows[2].actions.0.params.connection: No connection named 'Gone Slack'." in lines
    assert "workflows[3].colour: Unknown field." in lines
    assert any(
        line.startswith("workflows[3].name: Also the name of workflows[0]") for line in lines
    )
    assert not AutomationWorkflow.objects.filter(name__in=["Fine", "Broken", "Lost"]).exists()


def test_ambiguous_names_are_errors_not_guesses(workflows, slack, tmp_path):
    ConnectionFactory(name="Team Slack", platform="slack", credentials={"token": "t"})
    WorkflowFactory(name="Nightly report")
    path = tmp_path / "all.json"
    path.write_text(
        json.dumps({"workflows": [json.loads(export("--name", "Share posts"))["workflows"][0],
                                  {"name": "Nightly report"}]})
    )  # fmt: skip
    _, err = invalid_import(path)
    assert (
        "workflows[0].actions.0.params.connections.0: 2 connections are named 'Team Slack'; "
        "give them distinct names." in err
    )
    assert "workflows[1].name: 2 workflows are named 'Nightly report' here" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1, 2]", "document: Must be an object with a 'workflows' list."),
        ('{"version": 2, "workflows": []}', "version: Unsupported version 2; this server reads 1."),
        ("workflows: [{name: x, description: 2025-01-01}]", "workflows[0].description: Not a JSON"),
        ("workflows: [unclosed", "document: Neither JSON nor YAML (line 1)."),
    ],
)
def test_a_malformed_document_is_refused_with_its_path(tmp_path, text, expected):
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    error, err = invalid_import(path)
    assert error.returncode == 2
    assert expected in err


def test_the_command_exits_with_status_2_on_a_bad_document(transactional_db, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"workflows": [{"actions": "none"}]}))
    result = subprocess.run(
        [sys.executable, "manage.py", "import_workflows", str(path)],
        cwd=ROOT, env=process_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "workflows[0].name: This field is required." in result.stderr


def test_get_export_answers_one_workflow_as_a_document(api, workflows):
    response = api.get(f"{BASE}/workflows/{workflows[0]}/export")
    assert response.status_code == 200
    body = response.json()
    assert [w["name"] for w in body["workflows"]] == ["Share posts"]
    assert SECRET not in response.content.decode()


def test_post_import_creates_and_updates_and_answers_the_plan(api, workflows):
    document = api.get(f"{BASE}/workflows/{workflows[1]}/export").json()
    document["workflows"][0]["description"] = "New words"
    document["workflows"].append({"name": "Another", "actions": []})
    response = api.post(f"{BASE}/workflows/import", document, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (1, 1, 0)
    assert body["workflows"][0] == {
        "name": "Nightly report", "action": "updated", "changed_fields": ["description"],
        "id": workflows[1],
    }  # fmt: skip
    created = AutomationWorkflow.objects.get(name="Another")
    assert body["workflows"][1]["id"] == created.pk
    assert created.revisions.get().created_by.username == "staff"


def test_post_import_dry_run_writes_nothing(api, workflows):
    document = {"workflows": [{"name": "Another", "actions": []}]}
    response = api.post(f"{BASE}/workflows/import?dry_run=true", document, format="json")
    assert response.status_code == 200
    assert response.json()["dry_run"] is True and response.json()["created"] == 1
    assert not AutomationWorkflow.objects.filter(name="Another").exists()


def test_post_import_takes_yaml_too(api, workflows):
    text = "workflows:\n  - name: From YAML\n    actions: []\n"
    response = api.generic(
        "POST", f"{BASE}/workflows/import", text, content_type="application/yaml"
    )
    assert response.status_code == 200, response.json()
    assert AutomationWorkflow.objects.filter(name="From YAML").exists()


def test_post_import_answers_400_with_paths(api, workflows):
    document = {"workflows": [{"name": "X", "actions": [{"id": "a", "type": "nope"}]}]}
    response = api.post(f"{BASE}/workflows/import", document, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["workflows[0].actions.0.type"]


def test_the_overlap_policy_is_exported_and_imported_and_derived_when_left_out(api, workflows):
    document = api.get(f"{BASE}/workflows/{workflows[1]}/export").json()
    assert document["workflows"][0]["overlap_policy"] == "queue"
    document["workflows"] = [
        {"name": "Skips", "actions": [], "overlap_policy": "skip"},
        {"name": "Limited", "actions": [], "max_concurrency": 2},
        {"name": "Plain", "actions": []},
    ]
    assert api.post(f"{BASE}/workflows/import", document, format="json").status_code == 200
    policies = dict(AutomationWorkflow.objects.values_list("name", "overlap_policy"))
    assert (policies["Skips"], policies["Limited"], policies["Plain"]) == ("skip", "queue", "allow")


def test_an_import_pairing_max_concurrency_with_another_policy_answers_400_with_its_path(api):
    document = {"workflows": [{"name": "X", "max_concurrency": 2, "overlap_policy": "skip"}]}
    response = api.post(f"{BASE}/workflows/import", {**document}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["workflows[0].max_concurrency"]
    assert not AutomationWorkflow.objects.exists()


def test_a_created_webhook_workflow_comes_with_a_warning_to_set_its_secret(api, workflows):
    document = api.get(f"{BASE}/workflows/{workflows[2]}/export").json()
    document["workflows"][0]["name"] = "Inbound copy"
    body = api.post(f"{BASE}/workflows/import", document, format="json").json()
    assert body["warnings"] == [
        "Inbound copy: webhook trigger without a signing secret (secrets are never exported); "
        "set webhook_secret through the API."
    ]


def test_export_and_import_are_for_staff_only(plain_api, workflows):
    assert plain_api.get(f"{BASE}/workflows/{workflows[0]}/export").status_code == 403
    assert plain_api.post(f"{BASE}/workflows/import", {}, format="json").status_code == 403
    anonymous = APIClient()
    assert anonymous.get(f"{BASE}/workflows/{workflows[0]}/export").status_code == 401
    assert anonymous.post(f"{BASE}/workflows/import", {}, format="json").status_code == 401


def test_an_interval_schedule_imported_again_without_start_at_keeps_its_anchor(api):
    hourly = {"name": "Hourly", "trigger": {"type": "schedule", "interval_s": 3600}, "actions": []}
    document = {"version": FORMAT_VERSION, "workflows": [hourly]}
    with time_machine.travel("2026-11-26T12:07:00Z", tick=False):
        assert api.post(f"{BASE}/workflows/import", document, format="json").status_code == 200
    with time_machine.travel("2026-11-26T15:00:00Z", tick=False):
        again = api.post(f"{BASE}/workflows/import", document, format="json").json()
    assert again["workflows"][0]["action"] == "unchanged"
    workflow = AutomationWorkflow.objects.get(name="Hourly")
    assert workflow.trigger["start_at"] == "2026-11-26T12:07:00+00:00"
