"""End to end through a real Celery worker: API → database → worker → effect."""

import pytest

from integrations.models import IntegrationConnection
from tests.conftest import wait_for
from tests.versioning.github_stub import GitHubStub
from versioning.models import ContentVersion
from workflows.models import AutomationExecution

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("allow_loopback")]

BASE = "/api/workflow-orchestration"


def post(api, path, data=None):
    response = api.post(f"{BASE}/{path}", data or {}, format="json")
    assert response.status_code in (200, 201, 202), response.json()
    return response.json()


def all_finished(workflow_id: int, count: int) -> list[AutomationExecution] | None:
    executions = list(AutomationExecution.objects.filter(workflow_id=workflow_id).order_by("pk"))
    if len(executions) == count and all(execution.is_finished for execution in executions):
        return executions
    return None


def test_publishing_through_the_api_starts_the_publish_workflow_once_with_the_article(
    api, start_worker
):
    workflow = post(
        api,
        "workflows",
        {
            "name": "On publish",
            "trigger": {"type": "publish"},
            "actions": [
                {
                    "id": "seen",
                    "type": "transform",
                    "params": {
                        "values": {
                            "title": "{{ article.title }}",
                            "words": "{{ article.word_count }}",
                            "url": "{{ article.url }}",
                        }
                    },
                }
            ],
        },
    )
    article = post(api, "articles", {"title": "Fresh post", "content": "one two three four"})
    start_worker()

    published = post(api, f"articles/{article['id']}/publish")
    assert len(published["execution_ids"]) == 1
    (execution,) = wait_for(lambda: all_finished(workflow["id"], 1))
    assert execution.status == "completed", execution.error_message
    assert execution.trigger_payload == {"article_id": article["id"]}
    assert execution.context["article"]["title"] == "Fresh post"
    assert execution.context["steps"]["seen"] == {
        "title": "Fresh post",
        "words": 4,
        "url": "/articles/fresh-post/",
    }
    # Publishing again is a no-op: nothing new starts.
    assert post(api, f"articles/{article['id']}/publish")["already_published"] is True
    assert AutomationExecution.objects.filter(workflow_id=workflow["id"]).count() == 1


def test_a_self_publishing_workflow_runs_once_not_in_a_loop(api, start_worker):
    first = post(api, "articles", {"title": "First", "content": "a"})
    second = post(api, "articles", {"title": "Second", "content": "b"})
    # Published by a publish, it publishes another article: without the loop guard it would
    # start itself again.
    publisher = post(
        api,
        "workflows",
        {
            "name": "Publish the follow-up",
            "trigger": {"type": "publish"},
            "actions": [
                {"id": "pub", "type": "publish", "params": {"article_id": second["id"]}},
            ],
        },
    )
    follower = post(
        api,
        "workflows",
        {
            "name": "Hears the follow-up",
            "trigger": {"type": "publish", "filter": {"slug": "second"}},
            "actions": [{"id": "t", "type": "transform", "params": {"values": {"x": 1}}}],
        },
    )
    start_worker()

    post(api, f"articles/{first['id']}/publish")

    (run,) = wait_for(lambda: all_finished(publisher["id"], 1))
    assert run.status == "completed", run.error_message
    assert run.context["steps"]["pub"]["already_published"] is False
    (heard,) = wait_for(lambda: all_finished(follower["id"], 1))
    assert heard.context["depth"] == 1
    assert heard.context["article"]["id"] == second["id"]
    assert AutomationExecution.objects.filter(workflow_id=publisher["id"]).count() == 1


def test_a_publish_optimize_commit_workflow_runs_against_a_github_stub(
    api, start_worker, httpserver
):
    github = GitHubStub().install(httpserver)
    connection = IntegrationConnection.objects.create(
        name="GitHub stub",
        platform="github",
        credentials={"token": "t"},
        config={"repo": "o/r", "api_base_url": httpserver.url_for("")},
    )
    article = post(api, "articles", {"title": "Ship it", "content": "Short and sweet."})
    workflow = post(
        api,
        "workflows",
        {
            "name": "Publish, optimize, commit",
            "actions": [
                {"id": "publish", "type": "publish"},
                {"id": "optimize", "type": "optimize", "params": {"apply": True}},
                {"id": "commit", "type": "git_commit", "params": {"connection": connection.pk}},
            ],
        },
    )
    start_worker()

    post(api, f"workflows/{workflow['id']}/execute", {"article_id": article["id"]})

    (execution,) = wait_for(lambda: all_finished(workflow["id"], 1))
    assert execution.status == "completed", execution.error_message
    versions = list(
        ContentVersion.objects.filter(article_id=article["id"])
        .order_by("version_number")
        .values_list("change_type", "git_commit_hash")
    )
    assert versions == [
        ("create", ""),
        ("publish", ""),
        ("optimize", github.commits[-1]["sha"]),
    ]
    assert 'status: "published"' in github.files["articles/ship-it.md"][1].decode()
