"""The publish, optimize and git_commit actions, run in-process by the engine."""

import re

import pytest
from werkzeug import Response

from integrations.models import IntegrationConnection
from tests.factories import WorkflowFactory
from tests.versioning.github_stub import GitHubStub
from versioning.models import ContentVersion
from versioning.services import article_create, article_update
from workflows.engine import execution_run
from workflows.models import AutomationExecution
from workflows.services.executions import execution_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]

TEXT = "The cat sat on the mat. It was a sunny day! Readability matters."


def run(actions, payload=None, *, context=None, trigger=None) -> AutomationExecution:
    workflow = WorkflowFactory(actions=actions, trigger=trigger or {"type": "manual"})
    execution, _ = execution_create(
        workflow=workflow, trigger_type="manual", payload=payload or {}, context=context
    )
    execution_run(execution_id=execution.pk, worker="test")
    execution.refresh_from_db()
    return execution


def output(execution, step_id):
    return execution.steps.get(step_id=step_id).output


def make_article(**data):
    return article_create(data={"title": "Cats and mats", "content": TEXT, **data}).article


# --- publish --------------------------------------------------------------------------------------


def test_publish_publishes_the_payloads_article_and_records_a_publish_version():
    article = make_article()
    execution = run([{"id": "pub", "type": "publish", "params": {}}], {"article_id": article.pk})
    assert execution.status == "completed", execution.error_message
    article.refresh_from_db()
    result = output(execution, "pub")
    assert result["article_id"] == article.pk
    assert result["published_at"] == article.published_at.isoformat()
    assert (result["version_number"], result["already_published"]) == (2, False)
    assert ContentVersion.objects.get(article=article, version_number=2).change_type == "publish"


def test_publish_of_a_published_article_reports_already_published():
    article = make_article(status="published")
    execution = run([{"id": "pub", "type": "publish", "params": {"article_id": article.pk}}])
    assert output(execution, "pub")["already_published"] is True
    assert output(execution, "pub")["version_number"] == 1
    assert ContentVersion.objects.filter(article=article).count() == 1


def test_publish_uses_the_article_in_the_context():
    article = make_article()
    execution = run([{"id": "pub", "type": "publish"}], context={"article": {"id": article.pk}})
    assert output(execution, "pub")["article_id"] == article.pk


def test_publish_fires_other_publish_workflows_one_level_deeper_but_not_its_own():
    listener = WorkflowFactory(trigger={"type": "publish"})
    article = make_article()
    execution = run(
        [{"id": "pub", "type": "publish", "params": {"article_id": "{{ trigger.id }}"}}],
        {"id": article.pk},
        trigger={"type": "publish"},
    )
    started = AutomationExecution.objects.exclude(pk=execution.pk).get()
    assert started.workflow == listener
    assert started.context["depth"] == 1
    assert output(execution, "pub")["triggered_execution_ids"] == [started.pk]


def test_publish_beyond_the_trigger_depth_limit_completes_without_starting_workflows(settings):
    settings.TRIGGER_MAX_DEPTH = 1
    WorkflowFactory(trigger={"type": "publish"})
    article = make_article()
    execution = run(
        [{"id": "pub", "type": "publish", "params": {"article_id": article.pk}}],
        context={"depth": 1},
    )
    assert execution.status == "completed", execution.error_message
    assert output(execution, "pub")["triggered_execution_ids"] == []
    assert AutomationExecution.objects.count() == 1


def test_publish_without_an_article_fails_permanently_saying_so():
    execution = run([{"id": "pub", "type": "publish"}])
    assert execution.status == "failed"
    assert "No article" in execution.error_message


def test_publish_of_an_unknown_article_fails_naming_it():
    execution = run([{"id": "pub", "type": "publish", "params": {"article_id": 424242}}])
    assert "Article 424242 does not exist" in execution.error_message


# --- optimize -------------------------------------------------------------------------------------


def test_optimize_reports_the_hand_computed_measures_without_changing_the_article():
    article = make_article()
    execution = run(
        [{"id": "seo", "type": "optimize", "params": {"target_keyword": "cat"}}],
        {"article_id": article.pk},
    )
    result = output(execution, "seo")
    assert result["word_count"] == 13
    assert result["reading_time_minutes"] == 1
    assert result["flesch_reading_ease"] == 78.79
    assert result["title_length"] == len("Cats and mats")
    assert result["meta_description_length"] == 0
    assert result["keyword_density"] == round(1 / 13 * 100, 2)
    assert result["suggested_slug"] == "cats-and-mats"
    assert result["suggested_meta_description"] == TEXT
    assert "The meta description is empty." in result["issues"]
    assert (result["applied"], result["version_number"]) == ([], None)
    assert ContentVersion.objects.filter(article=article).count() == 1


def test_optimize_with_apply_writes_the_suggestions_and_records_an_optimize_version():
    article = make_article(slug="old-slug")
    execution = run(
        [{"id": "seo", "type": "optimize", "params": {"article_id": article.pk, "apply": True}}]
    )
    article.refresh_from_db()
    assert (article.slug, article.meta_description) == ("cats-and-mats", TEXT)
    result = output(execution, "seo")
    assert result["applied"] == ["meta_description", "slug"]
    version = ContentVersion.objects.get(article=article, version_number=2)
    assert (result["version_number"], version.change_type) == (2, "optimize")


def test_optimize_with_apply_keeps_the_slug_when_another_article_has_the_suggestion():
    make_article(title="Other", slug="cats-and-mats")
    article = make_article(slug="mine")
    execution = run(
        [{"id": "seo", "type": "optimize", "params": {"article_id": article.pk, "apply": True}}]
    )
    article.refresh_from_db()
    assert article.slug == "mine"
    assert output(execution, "seo")["applied"] == ["meta_description"]


# --- git_commit -----------------------------------------------------------------------------------


@pytest.fixture
def github(httpserver) -> GitHubStub:
    return GitHubStub().install(httpserver)


@pytest.fixture
def connection(httpserver) -> IntegrationConnection:
    return IntegrationConnection.objects.create(
        name="GitHub stub",
        platform="github",
        credentials={"token": "t"},
        config={"repo": "o/r", "api_base_url": httpserver.url_for("")},
    )


def commit_step(connection, **params):
    return [{"id": "git", "type": "git_commit", "params": {"connection": connection.pk, **params}}]


def test_git_commit_creates_the_file_as_markdown_and_stores_the_sha_on_the_latest_version(
    github, connection, httpserver
):
    article = make_article(excerpt='Say "hi"')
    execution = run(commit_step(connection), {"article_id": article.pk})
    assert execution.status == "completed", execution.error_message
    result = output(execution, "git")
    commit = github.commits[-1]
    assert result["commit_sha"] == commit["sha"]
    assert result["html_url"] == commit["html_url"]
    assert result["path"] == "articles/cats-and-mats.md"
    assert result["created"] is True
    assert ContentVersion.objects.get(article=article).git_commit_hash == commit["sha"]
    text = github.files["articles/cats-and-mats.md"][1].decode()
    assert text.startswith('---\ntitle: "Cats and mats"\nslug: "cats-and-mats"\n')
    assert 'excerpt: "Say \\"hi\\""' in text
    assert text.endswith(f"---\n\n{TEXT}\n")
    put = next(request for request, _ in httpserver.log if request.method == "PUT")
    assert put.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert put.headers["Idempotency-Key"] == f"{execution.pk}-git"
    assert "sha" not in github.puts[0]


def test_git_commit_after_an_edit_updates_the_file_with_its_previous_blob_sha(github, connection):
    article = make_article()
    run(commit_step(connection), {"article_id": article.pk})
    blob_before = github.files["articles/cats-and-mats.md"][0]
    article_update(article=article, data={"content": "Edited."})
    execution = run(commit_step(connection), {"article_id": article.pk})
    result = output(execution, "git")
    assert github.puts[-1]["sha"] == blob_before
    assert result["created"] is False
    assert result["commit_sha"] == github.commits[-1]["sha"]
    assert (
        ContentVersion.objects.get(article=article, version_number=2).git_commit_hash
        == (result["commit_sha"])
    )
    assert github.files["articles/cats-and-mats.md"][1].decode().endswith("\nEdited.\n")


def test_git_commit_refetches_the_sha_once_after_a_409_and_succeeds(github, connection):
    article = make_article()
    run(commit_step(connection), {"article_id": article.pk})
    article_update(article=article, data={"content": "Edited."})
    path = "articles/cats-and-mats.md"
    theirs = {}

    def someone_else_commits_first(stub):
        # Between our GET and our PUT: our sha goes stale, and GitHub answers 409.
        theirs["blob"] = stub.commit(path, b"theirs") and stub.files[path][0]

    github.before_put = someone_else_commits_first
    execution = run(commit_step(connection), {"article_id": article.pk})
    assert execution.status == "completed", execution.error_message
    assert len(github.puts) == 3
    assert github.puts[1]["sha"] != theirs["blob"]
    assert github.puts[2]["sha"] == theirs["blob"]
    assert github.files[path][1].decode().endswith("\nEdited.\n")
    assert output(execution, "git")["commit_sha"] == github.commits[-1]["sha"]


def test_git_commit_that_meets_a_second_409_fails_as_retryable(github, connection):
    article = make_article()
    run(commit_step(connection), {"article_id": article.pk})
    article_update(article=article, data={"content": "Edited."})

    def always_someone_first(stub):
        stub.commit("articles/cats-and-mats.md", f"theirs {len(stub.puts)}".encode())
        stub.before_put = always_someone_first

    github.before_put = always_someone_first
    actions = commit_step(connection)
    actions[0]["retry"] = {"max_attempts": 2, "delay_s": 60}
    execution = run(actions, {"article_id": article.pk})
    step = execution.steps.get()
    assert (execution.status, step.status) == ("queued", "retrying")
    assert "HTTP 409" in step.error_message


def test_git_commit_of_unchanged_content_commits_nothing_and_reports_the_existing_commit(
    github, connection
):
    article = make_article()
    first = output(run(commit_step(connection), {"article_id": article.pk}), "git")
    again = output(run(commit_step(connection), {"article_id": article.pk}), "git")
    assert len(github.puts) == 1
    assert again["unchanged"] is True
    assert (again["commit_sha"], again["html_url"]) == (first["commit_sha"], first["html_url"])


def test_git_commit_takes_a_templated_path_content_message_and_branch(github, connection):
    article = make_article()
    execution = run(
        commit_step(
            connection,
            path="posts/{{ trigger.day }}/{{ trigger.name }}.txt",
            content="Hello {{ trigger.name }}",
            message="Add {{ trigger.name }}",
            branch="drafts",
        ),
        {"day": "2024-05-01", "name": "hello", "article_id": article.pk},
    )
    assert output(execution, "git")["path"] == "posts/2024-05-01/hello.txt"
    assert github.files["posts/2024-05-01/hello.txt"][1] == b"Hello hello"
    assert (github.puts[0]["message"], github.puts[0]["branch"]) == ("Add hello", "drafts")


def test_git_commit_reports_githubs_refusal_as_a_permanent_failure(github, connection):
    connection.credentials = {"token": "wrong"}
    connection.save()
    execution = run(commit_step(connection), {"article_id": make_article().pk})
    assert execution.status == "failed"
    assert "HTTP 401: Bad credentials" in execution.error_message
    assert "wrong" not in execution.error_message
    assert execution.steps.get().attempts == 1


def test_git_commit_without_a_repository_fails_saying_where_to_set_it(github, connection):
    connection.config = {"api_base_url": connection.config["api_base_url"]}
    connection.save()
    execution = run(commit_step(connection), {"article_id": make_article().pk})
    assert "No repository" in execution.error_message


def test_git_commit_does_not_quote_a_body_that_is_not_githubs_json(connection, httpserver):
    httpserver.expect_request(re.compile(r"^/repos/.*")).respond_with_response(
        Response("<html>proxy error body-canary-77</html>", status=502)
    )

    execution = run(commit_step(connection), {"article_id": make_article().pk})

    assert "HTTP 502: no error message" in execution.error_message
    assert "body-canary-77" not in execution.error_message
